"""Per-object result cache: a one-service change of a large stack re-judges only what changed.

What is cached, per stack (``<cache dir>/objects/<stack>.json``), under a *check-set fingerprint*
(:func:`fingerprint`: checkov, kubernetes-validate, PyYAML and jsonschema versions, the Python version,
every file of policies/ that judges output, the gate's own code and components/validation.py):

* **per file** (key: build-dir path + bytes): checkov's resource checks (built-in and ours), the
  kubernetes-validate errors, checkov's dockerfile checks and apply-validity's checks of one object alone
  (``apply_validity.own_problems``; their predicates, components/validation.py, are in the fingerprint). Each of
  these judges one file's objects alone, so an unchanged file keeps its results;
* **graph checks** (CKV2, which span objects): per file of the kinds any graph check can see
  (:func:`slm_deploy.gate.scan.graph_check_kinds`), under a key that also covers the files its results can
  depend on (:mod:`slm_deploy.gate.graph_partition`: a Deployment's covers the NetworkPolicies checkov can
  connect to its pods; an RBAC object's every RBAC object). A changed object re-runs the graph checks on itself
  and those files only, so
  a cross-object finding appears or disappears with the one object that caused it; a change to any other
  kind (ConfigMap, Service, ...) keeps them;
* **promtool's verdict per rule file** (key: its place, its text and the promtool binary);
* **the check catalog** (built-in checks, kinds checks apply to, graph kinds): depends on the check set only;
* **our checks' metadata** (``policies.registry.list_slm_checks``: id, name, severity ... of every SLM check): read
  from policies/ alone, which the fingerprint covers, so a re-gate does not import every rule module to list them.

Every cross-object step of the gate that is not checkov's (manifest-set rules, compose checks, coverage,
inline suppressions, waivers) runs on the whole stack every time; it is cheap. The store is rewritten on
each run with only the entries that run used, so it never grows past one stack's worth.
"""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import fields
from pathlib import Path
from typing import Any

from slm_deploy.gate import store_json
from slm_deploy.gate.result import findings_from_values, findings_values

__all__ = ["fingerprint", "ObjectStore", "file_key"]


def _versions() -> str:
    from slm_deploy.gate.cache import _version

    dists = ("checkov", "kubernetes-validate", "pyyaml", "jsonschema", "referencing")
    return ";".join(f"{d}={_version(d)}" for d in dists) + f";python={platform.python_version()}"


def fingerprint(policies_dir: Path) -> str:
    """sha256 of everything that decides what a check says about one object (not which objects exist)."""
    from slm_deploy.gate.build_files import _files
    from slm_deploy.gate.cache import _digest_file

    h = hashlib.sha256(_versions().encode())
    gate_code = Path(__file__).resolve().parent
    validation = gate_code.parent.parent / "components" / "validation.py"  # apply-validity's predicates
    for label, root, skip in (("policies", policies_dir, ("crossguard", "CATALOG.md")), ("gate", gate_code, ()),
                              ("validation", validation, ())):
        for rel, path in _files(root, skip):
            h.update(f"\0{label}:{rel}\0".encode())
            h.update(_digest_file(path))
    return h.hexdigest()


def file_key(rel: str, data: bytes) -> str:
    return hashlib.sha256(rel.encode() + b"\0" + data).hexdigest()


def scan_to_json(out: Any) -> dict[str, Any]:
    """One scan output as JSON, each finding as its list of field values (:func:`finding_values`)."""
    return {"passed": findings_values(out.passed), "failed": findings_values(out.failed),
            "skipped": findings_values(out.skipped), "ran": sorted(out.ran)}


def scan_from_json(data: dict[str, Any]) -> Any:
    from slm_deploy.gate.scan import ScanOutput

    return ScanOutput(findings_from_values(data["passed"]), findings_from_values(data["failed"]),
                      findings_from_values(data["skipped"]), set(data["ran"]))


class ObjectStore:
    """One stack's per-object results under one check-set fingerprint (see the module doc)."""

    def __init__(self, stack: str, fp: str, directory: Path | None, enabled: bool = True):
        self.stack, self.fingerprint, self.enabled = stack, fp, enabled and directory is not None
        self.path = (directory / "objects" / f"{stack}.json") if directory is not None else None
        self._old: dict[str, Any] = {"files": {}, "graph": {}, "rules": {}, "catalog": None, "slm_checks": None}
        self._new: dict[str, Any] = {"files": {}, "graph": {}, "rules": {}, "catalog": None, "slm_checks": None}
        if self.enabled and self.path.is_file():
            try:
                data = store_json.loads(self.path.read_bytes())
            except (OSError, ValueError):
                data = {}
            if isinstance(data, dict) and data.get("fingerprint") == fp:
                self._old = {"files": data.get("files") or {}, "graph": data.get("graph") or {},
                             "rules": data.get("rules") or {}, "catalog": data.get("catalog"),
                             "slm_checks": data.get("slm_checks")}

    # Each getter marks the entry as used this run (kept on save); each putter stores a fresh one.
    def get(self, section: str, key: str) -> Any:
        value = self._old[section].get(key) if self.enabled else None
        if value is not None:
            self._new[section][key] = value
        return value

    def put(self, section: str, key: str, value: Any) -> None:
        self._new[section][key] = value

    def catalog(self) -> dict[str, Any] | None:
        value = self._old["catalog"] if self.enabled else None
        if value is not None:
            self._new["catalog"] = value
        return value

    def put_catalog(self, value: dict[str, Any]) -> None:
        self._new["catalog"] = value

    def slm_checks(self) -> list[Any]:
        """``policies.registry.list_slm_checks()`` (a list of ``CheckMeta``), from the store when it holds them under
        this fingerprint, else listed (importing every rule module) and kept."""
        from policies.rules._types import CheckMeta

        names = [f.name for f in fields(CheckMeta)]
        rows = self._old["slm_checks"] if self.enabled else None
        if isinstance(rows, dict) and rows.get("fields") == names:
            self._new["slm_checks"] = rows
            return [CheckMeta(*(tuple(v) if isinstance(v, list) else v for v in row)) for row in rows["checks"]]
        from policies.registry import list_slm_checks

        metas = list_slm_checks()
        self._new["slm_checks"] = {"fields": names, "checks": [[getattr(m, n) for n in names] for m in metas]}
        return metas

    def save(self) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(store_json.dumps({"fingerprint": self.fingerprint, **self._new}))
        tmp.replace(self.path)
