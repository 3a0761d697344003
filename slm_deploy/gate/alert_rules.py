"""``promtool check rules`` on every rendered Prometheus rule file, inside the gate.

A rule file Prometheus cannot load (a bad expression, a broken Go template in an annotation) means
alerting is silently off, so it fails the gate (``PROMTOOL_RULES``), not only the tests. Rule files are
found by shape, not by name: every YAML file under ``files/`` whose top level is ``groups:`` with
``rules:`` lists, and the ``spec`` of every PrometheusRule manifest. A build with rule files and no
``promtool`` on PATH fails the gate with a message saying how to install it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from slm_deploy.gate.result import GATE_CHECKS, Finding

__all__ = ["check_rule_files", "rule_files", "CHECK_ID"]

CHECK_ID = "PROMTOOL_RULES"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
INSTALL_HINT = ("install it: apt-get install -y --no-install-recommends prometheus (Debian/Ubuntu), or put the "
                "promtool binary of a Prometheus release on PATH")


def _is_rules(doc: Any) -> bool:
    groups = doc.get("groups") if isinstance(doc, dict) else None
    return isinstance(groups, list) and bool(groups) and all(isinstance(g, dict) and "rules" in g for g in groups)


def rule_files(build_dir: Path, manifests: dict[Path, Any]) -> list[tuple[str, str]]:
    """``(file in the build dir, rule-file text)`` for every rendered rule file."""
    found: list[tuple[str, str]] = []
    files = build_dir / "files"
    for path in sorted(files.rglob("*")) if files.is_dir() else ():
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        text = path.read_text()
        try:
            doc = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError:
            doc = None
        if _is_rules(doc):
            found.append((path.relative_to(build_dir).as_posix(), text))
    for path, obj in manifests.items():  # JSON is YAML to promtool, and ~20x cheaper to write than PyYAML's output
        if isinstance(obj, dict) and obj.get("kind") == "PrometheusRule":
            found.append((path.relative_to(build_dir).as_posix(), json.dumps(obj.get("spec") or {}, indent=1, default=str)))
    return found


def _finding(file: str, passed_message: str = "", kind: str = "RuleFile") -> Finding:
    return Finding(CHECK_ID, GATE_CHECKS[CHECK_ID][0], f"{kind}.{file}", file, passed_message, severity="HIGH",
                   source="gate", kind=kind, name=file)


def _key(promtool: str, rel: str, text: str) -> str:
    """A rule file's cache key: its place, its text and the promtool binary (path, size, mtime) that judged it."""
    import hashlib

    from slm_deploy.gate.cache import _binary

    return hashlib.sha256(f"{_binary('promtool')}\0{promtool}\0{rel}\0{text}".encode()).hexdigest()


def check_rule_files(build_dir: Path, manifests: dict[Path, Any], store: Any = None) -> tuple[list[Finding], list[Finding]]:
    """(passed, failed): one finding per rule file; promtool missing fails each of them.

    ``store`` (the gate's :class:`~slm_deploy.gate.object_cache.ObjectStore`): promtool's verdict per rule
    file, keyed on the file's text and the promtool binary; a changed file is always checked again.
    """
    files = rule_files(build_dir, manifests)
    if not files:
        return [], []
    promtool = shutil.which("promtool")
    if promtool is None:
        return [], [_finding(f, f"promtool is not on PATH, so this rule file cannot be checked; {INSTALL_HINT}")
                    for f, _ in files]
    verdicts: dict[str, dict[str, Any]] = {}
    for rel, text in files:
        known = store.get("rules", _key(promtool, rel, text)) if store is not None else None
        if known is not None:
            verdicts[rel] = known
    with tempfile.TemporaryDirectory(prefix="slm-gate-rules-") as tmp:
        for n, (rel, text) in enumerate(files):
            if rel in verdicts:
                continue
            path = Path(tmp) / f"{n}.rules.yaml"
            path.write_text(text)
            try:
                proc = subprocess.run([promtool, "check", "rules", path.name], cwd=tmp, capture_output=True,
                                      text=True, timeout=60, check=False)
            except subprocess.TimeoutExpired:
                verdicts[rel] = {"ok": False, "message": "promtool check rules timed out after 60 s"}
                continue  # not cached: a slow machine, not a verdict on the file
            detail = " ".join((proc.stdout + proc.stderr).replace(path.name, rel).split())
            verdicts[rel] = {"ok": proc.returncode == 0,
                             "message": "" if proc.returncode == 0 else f"promtool check rules: {detail[:600]}"}
            if store is not None:
                store.put("rules", _key(promtool, rel, text), verdicts[rel])
    passed = [_finding(rel) for rel, _ in files if verdicts[rel]["ok"]]
    failed = [_finding(rel, verdicts[rel]["message"]) for rel, _ in files if not verdicts[rel]["ok"]]
    return passed, failed
