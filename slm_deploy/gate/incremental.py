"""The gate's checkov work, planned against the per-object cache (:mod:`slm_deploy.gate.object_cache`).

:func:`lookup` reads every rendered file once and looks it up; :meth:`Plan.parse_manifests` gives the
objects (cached or parsed); :meth:`Plan.submit` sends only what is missing to the prewarmed worker (or
runs it here); the parent does its own checks meanwhile and then calls :meth:`Plan.finish` for the
merged results. When everything is cached, checkov is never asked (the
prewarmed worker is then killed unused).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from slm_deploy.gate import store_json
from slm_deploy.gate.graph_partition import file_keys, scan_set, split_by_file
from slm_deploy.gate.object_cache import ObjectStore, file_key, scan_from_json, scan_to_json
from slm_deploy.gc_pause import gc_resumed

if TYPE_CHECKING:
    from slm_deploy.gate.build_files import BuildFiles
    from slm_deploy.gate.scan import ScanOutput
    from slm_deploy.gate.worker import ScanWorker

__all__ = ["Plan", "lookup"]


def _call(worker: "ScanWorker | None", name: str, *args: Any) -> Any:
    from slm_deploy.gate import scan
    from slm_deploy.gate.worker import Done

    if worker is None:
        with gc_resumed():  # checkov in this process: its graphs do form cycles
            return Done(getattr(scan, name)(*args))
    return worker.submit(name, *args)


@dataclass
class Plan:
    store: ObjectStore
    build_dir: Path
    rels: dict[Path, str]
    data: dict[Path, bytes]
    keys: dict[Path, str]
    manifests: list[Path]
    cached: dict[str, Any] = field(default_factory=dict)
    """file key -> cached record (``checkov``/``dockerfile`` scan JSON, ``schema`` errors)."""
    reused: list[dict[str, Any]] = field(default_factory=list)
    """Cached scan outputs (JSON) reported as they are."""
    missing: dict[str, list[Path]] = field(default_factory=lambda: {"checkov": [], "dockerfile": []})

    def parse_manifests(self) -> dict[Path, Any]:
        """Every manifest as an object: from the cache, else parsed (libyaml) and cached when JSON keeps it."""
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        parsed: dict[Path, Any] = {}
        for path in self.manifests:
            record = self.cached.get(self.keys[path])
            if record is not None and "object" in record:
                parsed[path] = store_json.loads(record["object"])  # a fresh copy: later steps may modify it
                self.texts[path] = record["object"]
                continue
            obj = yaml.load(self.data[path], Loader=loader)
            parsed[path] = obj
            try:
                text = store_json.dumps(obj).decode()
            except (TypeError, ValueError):
                continue
            if store_json.loads(text) == obj:  # dates, non-string keys, NaN ... do not survive JSON: never cached
                self._record(path)["object"] = text
                self.texts[path] = text
        return parsed

    def stripped_copies(self, parsed: dict[Path, Any]) -> list[dict]:
        """A copy of every parsed manifest that is a mapping, without keys starting with ``__`` at any depth: what
        ``policies.rules._k8s.strip_meta`` gives for each (the manifest-set rules' input). An object whose JSON text
        :meth:`parse_manifests` kept (its JSON round trip is the object itself, types included) and holds no
        ``"__`` is decoded again from that text (a C-speed copy, no key to strip); any other goes to ``strip_meta``."""
        from policies.rules._k8s import strip_meta

        copies = []
        for path, obj in parsed.items():
            if not isinstance(obj, dict):
                continue
            text = self.texts.get(path)
            copies.append(store_json.loads(text) if text is not None and '"__' not in text else strip_meta(obj))
        return copies

    def submit(self, worker: "ScanWorker | None", kinds: dict[Path, str | None], checks_dir: Path | None,
               severities: dict[str, str], objects: dict[Path, Any] | None = None) -> None:
        """Send the checkov work the cache could not answer (catalog, resource scans, graph scan).

        ``objects``: the parsed manifests; with them a spoke-only graph re-run leaves out the NetworkPolicies that
        cannot select a changed pod (:mod:`slm_deploy.gate.graph_edges`)."""
        from slm_deploy.gate.scan import graph_subset

        build_dir, manifests = self.build_dir, self.manifests
        self.objects = objects
        catalog = self.store.catalog()
        if catalog is None:
            self.jobs.append(("catalog", _call(worker, "check_catalog", checks_dir), None))
        if self.missing["checkov"]:
            self.jobs.append(("checkov", _call(worker, "scan_kubernetes_files", self.missing["checkov"], build_dir,
                                               checks_dir, severities), None))
        if self.missing["dockerfile"]:
            self.jobs.append(("dockerfile", _call(worker, "scan_dockerfile_files", self.missing["dockerfile"],
                                                  build_dir, severities), None))
        if not manifests:
            return
        kind_list = [kinds.get(p) for p in manifests]
        self.kinds = kinds
        if catalog is None:  # a new check set: the worker picks the subset; every file's results are stored after
            self.jobs.append(("graph", _call(worker, "scan_kubernetes_graph_subset", manifests, kind_list, build_dir,
                                             checks_dir, severities), None))
            return
        subset = [manifests[i] for i in graph_subset(manifests, kind_list, catalog["graph_kinds"])]
        files, keys = self._graph_keys(catalog, subset)
        missing = []
        for rel, (key, _) in keys.items():
            record = self.store.get("graph", key)
            if record is None:
                missing.append(rel)
            else:
                self.reused.append(record)
        if missing:  # only what changed, with what its results depend on (slm_deploy.gate.graph_partition)
            by_rel = {self.rels[p]: p for p in subset}
            load = [by_rel[r] for r in scan_set(missing, files, catalog.get("graph_groups"), keys,
                                                 set(catalog.get("pod_kinds") or []),
                                                 _policy_filter(objects, by_rel))]
            self.graph_scanned = len(load)
            self.jobs.append(("graph", _call(worker, "scan_kubernetes_graph", load, build_dir, checks_dir, severities),
                              (missing, keys)))

    kinds: dict[Path, str | None] = field(default_factory=dict)
    texts: dict[Path, str] = field(default_factory=dict)
    """Each parsed manifest's JSON text, where its JSON round trip is the object itself (:meth:`parse_manifests`)."""
    objects: dict[Path, Any] | None = None
    """The parsed manifests (:meth:`submit`), for the graph keys' and re-runs' edges (None: every hub counts)."""
    graph_scanned: int = 0
    """How many files the graph checks loaded this run (0: every graph result came from the cache)."""

    def _graph_keys(self, catalog: dict[str, Any], subset: list[Path]) -> tuple[dict, dict[str, tuple[str, str]]]:
        files = {self.rels[p]: (self.kinds.get(p), self.keys[p]) for p in subset}
        edges = _edges(self.objects, {self.rels[p]: p for p in subset})
        return files, file_keys(files, catalog.get("graph_groups"), set(catalog.get("pod_kinds") or []), edges)
    jobs: list[tuple[str, Any, Any]] = field(default_factory=list)
    """(what, pending result, context) in submission order (one worker answers on one pipe)."""

    def own_apply(self, rel: str, obj: dict) -> list[list[str] | None]:
        """Apply-validity's checks of one object alone (:func:`~slm_deploy.gate.apply_validity.own_problems`) for
        the manifest at ``rel``, which ``obj`` was parsed from: cached per file (path + bytes) in the store, as its
        schema errors are."""
        from slm_deploy.gate.apply_validity import own_problems

        if not self._by_rel:
            self._by_rel = {r: p for p, r in self.rels.items()}
        path = self._by_rel.get(rel)
        if path is None or path not in self.keys:  # not a file of this plan: worked out, not cached
            return own_problems(obj)
        record = self.cached.get(self.keys[path])
        if record is not None and isinstance(record.get("apply"), list):
            return record["apply"]
        problems = own_problems(obj)
        self._record(path)["apply"] = problems
        return problems

    _by_rel: dict[str, Path] = field(default_factory=dict)

    def schema_errors(self, path: Path) -> list[str] | None:
        """Cached kubernetes-validate errors of one manifest (None: not cached, validate it)."""
        record = self.cached.get(self.keys[path])
        return None if record is None else record.get("schema")

    def put_schema(self, path: Path, errors: list[str]) -> None:
        self._record(path)["schema"] = errors

    def _record(self, path: Path) -> dict[str, Any]:
        key = self.keys[path]
        record = self.cached.get(key) or self.store.get("files", key) or {}
        self.store.put("files", key, record)
        self.cached[key] = record
        return record

    def finish(self) -> tuple[list["ScanOutput"], dict[str, Any]]:
        """Wait for the submitted work; store it; return every scan output (cached and fresh) and the catalog."""
        outputs: list[Any] = []
        catalog = self.store.catalog()
        by_rel = {rel: path for path, rel in self.rels.items()}
        for what, pending, context in self.jobs:
            value = pending.result()
            if what == "catalog":
                catalog = value
                self.store.put_catalog(value)
            elif what in ("checkov", "dockerfile"):
                for rel, out in value.items():
                    path = by_rel.get(rel)
                    if path is not None:
                        self._record(path)[what] = scan_to_json(out)
                    outputs.append(out)
            elif what == "graph":
                if context is None:  # the worker chose the subset: (indexes into manifests, output)
                    subset, value = value
                    _, keys = self._graph_keys(catalog, [self.manifests[i] for i in subset])
                    context = (list(keys), keys)
                    self.graph_scanned = len(subset)
                missing, keys = context
                for rel, found in split_by_file(value, missing).items():
                    if rel not in keys:  # not a file of this run's subset (never expected): keep it, store nothing
                        outputs.append(_output(found))
                        continue
                    out = _output(found)
                    self.store.put("graph", keys[rel][0], scan_to_json(out))
                    outputs.append(out)
        outputs += [scan_from_json(x) for x in self.reused]
        return outputs, catalog


def _policy_filter(objects: dict[Path, Any] | None, by_rel: dict[str, Path]):
    """``may_connect(hub, spokes)`` for :func:`scan_set` from the parsed objects, or None (keep every hub)."""
    from slm_deploy.gate import graph_edges

    if objects is None or not graph_edges.supported():
        return None
    labels: dict[str, list[Any] | None] = {}

    def may_connect(hub: str, spokes: list[str]) -> bool:
        pods: list[Any] = []
        for rel in spokes:
            if rel not in labels:
                labels[rel] = graph_edges.pod_labels(objects.get(by_rel[rel]))
            if labels[rel] is None:
                return True
            pods += labels[rel]
        return graph_edges.policy_may_connect(objects.get(by_rel[hub]), pods)

    return may_connect


def _edges(objects: dict[Path, Any] | None, by_rel: dict[str, Path]):
    """``edges(hub_rels)`` for :func:`~slm_deploy.gate.graph_partition.file_keys` from the parsed objects, or None
    (every hub counts for every spoke): the hubs checkov may connect to one spoke, through an index of the hubs."""
    from slm_deploy.gate import graph_edges

    if objects is None or not graph_edges.supported():
        return None

    def for_hubs(hub_rels: list[str]):
        index = graph_edges.PolicyEdges({rel: objects.get(by_rel[rel]) for rel in hub_rels})
        return lambda spoke: index.connected(objects.get(by_rel[spoke]))

    return for_hubs


def _output(found: dict[str, list]) -> "ScanOutput":
    from slm_deploy.gate.scan import ScanOutput

    ran = {f.check_id for bucket in found.values() for f in bucket if f.source == "checkov"}
    return ScanOutput(found["passed"], found["failed"], found["skipped"], ran)


def _relative(path: Path, build_dir: Path) -> str:
    """``path.relative_to(build_dir).as_posix()`` for a path under ``build_dir`` (as the gate lists them: the build dir
    joined with more parts), by its text where that is plainly a prefix (1,300+ manifests at 100 services)."""
    text, prefix = str(path), str(build_dir)
    if os.sep == "/" and prefix not in ("", ".") and text.startswith(prefix + "/") and "/./" not in text \
            and "//" not in text and not text.endswith("/"):
        return text[len(prefix) + 1:]
    return path.relative_to(build_dir).as_posix()


def lookup(store: ObjectStore, build_dir: Path, manifests: list[Path], dockerfiles: list[Path],
           build: "BuildFiles | None" = None) -> Plan:
    """Read every manifest and Dockerfile once and look its results up (see the module doc). ``build``: the gate
    run's one read of ``build_dir`` (:class:`~slm_deploy.gate.build_files.BuildFiles`); a file it holds is not
    read again."""
    files = manifests + dockerfiles
    rels = {p: _relative(p, build_dir) for p in files}
    held = build.data if build is not None and Path(build.root) == Path(build_dir) else {}
    data = {p: held[rels[p]] if rels[p] in held else p.read_bytes() for p in files}
    keys = {p: file_key(rels[p], data[p]) for p in files}
    plan = Plan(store, build_dir, rels, data, keys, manifests)
    docker = set(dockerfiles)
    for path in files:
        what = "dockerfile" if path in docker else "checkov"
        record = store.get("files", keys[path])
        if record is not None:
            plan.cached[keys[path]] = record
        if record is None or record.get(what) is None:
            plan.missing[what].append(path)
        else:
            plan.reused.append(record[what])
    return plan
