"""checkov in-process (imported once per process, lazily) plus the gate's own inline-suppression scan.

Nothing here runs checkov's CLI. ``--skip-download`` semantics: ``BC_SKIP_MAPPING=TRUE`` and
``bc_integration.skip_download = True`` before any scan, and no API key is ever configured, so the
platform integrations (policy metadata, suppressions, custom policies) never make a network call.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from slm_deploy.gate.result import Finding

if TYPE_CHECKING:
    from slm_deploy.gate.build_files import BuildFiles

__all__ = [
    "checkov_loaded", "preload", "scan_kubernetes", "scan_dockerfiles", "find_dockerfiles", "k8s_resource_id",
    "split_k8s_resource", "scan_inline_suppressions", "InlineHit", "builtin_checks", "kubernetes_check_kinds",
    "ScanOutput", "scan_kubernetes_files", "scan_kubernetes_graph", "scan_dockerfile_files", "graph_check_kinds",
    "graph_subset", "scan_kubernetes_graph_subset",
    "check_catalog", "graph_check_groups", "preload_schemas", "validate_schemas",
]

_STATE: dict[str, Any] = {"ready": False, "external": set()}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster on manifests


def _prepare() -> None:
    if _STATE["ready"]:
        return
    os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")
    # A stack is tens of small files: forking the (large) process per file group costs more than it saves.
    os.environ.setdefault("CHECKOV_PARALLELIZATION_TYPE", "none")
    from checkov.common.bridgecrew.platform_integration import bc_integration
    from checkov.common.models.enums import ParallelizationType
    from checkov.common.parallelizer.parallel_runner import parallel_runner

    bc_integration.skip_download = True  # the CLI's --skip-download
    from slm_deploy.gate.checkov_yaml import install

    install()  # checkov's manifest loader on libyaml (pinned checkov, identical output)
    # The env var above only counts if checkov was not imported yet; set the shared runner too
    # (the prewarmed worker is a daemonic process, which may not fork children of its own).
    parallel_runner.type = ParallelizationType.NONE
    _STATE["ready"] = True


def preload() -> None:
    """Import checkov's kubernetes and dockerfile runners now (the prewarmed worker calls this)."""
    _prepare()
    import checkov.dockerfile.runner  # noqa: F401
    import checkov.kubernetes.runner  # noqa: F401
    import checkov.runner_filter  # noqa: F401


def preload_schemas() -> None:
    """Import kubernetes-validate and jsonschema and read each supported version's shared definitions now (the
    prewarmed worker does, when idle after :func:`preload`): what validating any object needs first."""
    from slm_deploy.gate import schema_validation
    from slm_deploy.gc_pause import gc_paused

    with gc_paused():
        schema_validation.preload()


def validate_schemas(objects: dict[str, Any]) -> list[tuple[str, str, str]]:
    """:func:`slm_deploy.gate.schema_validation.validate_objects` on parsed objects keyed by file name (in the worker:
    the gate runner sends the few objects of a re-gate here). The collector is paused as in the parent's gate: the
    schemas read here are acyclic, and a full collection would walk checkov's whole heap."""
    from slm_deploy.gate.schema_validation import validate_objects
    from slm_deploy.gc_pause import gc_paused

    with gc_paused():
        return validate_objects(objects)


def checkov_loaded() -> bool:
    return _STATE["ready"]


def _external(directory: Path | None) -> list[str] | None:
    """External checks live in process-global registries: load each directory once per process."""
    if directory is None or not directory.is_dir():
        return None
    key = str(directory.resolve())
    if key in _STATE["external"]:
        return None
    _STATE["external"].add(key)
    return [key]


def split_k8s_resource(resource: str) -> tuple[str, str, str]:
    """``Kind.namespace.name`` -> parts (names may contain dots; kinds and namespaces cannot)."""
    parts = resource.split(".", 2)
    while len(parts) < 3:
        parts.insert(1, "")
    return parts[0], parts[1], parts[2]


def k8s_resource_id(obj: dict[str, Any]) -> str:
    """The id checkov gives a Kubernetes object (namespace ``default`` when unset)."""
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}.{meta.get('namespace') or 'default'}.{meta.get('name')}"


class _Relative:
    """Build-dir-relative paths for checkov's records: the build dir is resolved once, each file once."""

    def __init__(self, build_dir: Path):
        self._root = build_dir.resolve()
        self._seen: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        rel = self._seen.get(path)
        if rel is None:
            try:
                rel = Path(path).resolve().relative_to(self._root).as_posix()
            except ValueError:
                rel = path
            self._seen[path] = rel
        return rel


def _record_finding(rec: Any, rel: _Relative, source: str, severities: dict[str, str]) -> Finding:
    file = rel(getattr(rec, "file_abs_path", None) or rec.file_path)
    details = [str(d) for d in (getattr(rec, "details", None) or [])]
    comment = ""
    if isinstance(rec.check_result, dict) and rec.check_result.get("suppress_comment"):
        comment = f"inline suppression: {rec.check_result['suppress_comment']}"
    message = "; ".join(details) or comment
    lines = getattr(rec, "file_line_range", None) or [0]
    if source == "dockerfile":
        instruction = rec.resource.rsplit(".", 1)[-1] if "." in rec.resource else ""
        resource, kind, namespace, name = f"Dockerfile.{file}", "Dockerfile", "", file
        if instruction:
            message = (message + "; " if message else "") + f"instruction {instruction}"
    else:
        resource = rec.resource
        kind, namespace, name = split_k8s_resource(resource)
    return Finding(
        rec.check_id, rec.check_name, resource, file, message,
        severity=severities.get(rec.check_id, ""), source="checkov", kind=kind, namespace=namespace, name=name,
        line=int(lines[0] or 0), guideline=getattr(rec, "guideline", None) or "",
    )


@dataclass
class ScanOutput:
    passed: list[Finding]
    failed: list[Finding]
    skipped: list[Finding]
    ran: set[str]


def _collect(reports: Any, build_dir: Path, source: str, severities: dict[str, str]) -> ScanOutput:
    out = ScanOutput([], [], [], set())
    rel = _Relative(build_dir)
    for report in reports if isinstance(reports, list) else [reports]:
        if report is None:
            continue
        for attr, bucket in (("passed_checks", out.passed), ("failed_checks", out.failed), ("skipped_checks", out.skipped)):
            for rec in getattr(report, attr):
                bucket.append(_record_finding(rec, rel, source, severities))
                out.ran.add(rec.check_id)
        if getattr(report, "parsing_errors", None):
            for path in report.parsing_errors:
                file = rel(path)
                out.failed.append(Finding("CKV_PARSE", "Ensure checkov can parse every rendered file", file, file,
                                          "checkov could not parse this file", source="gate", kind="File", name=file))
    return out


def scan_kubernetes(files: list[Path], build_dir: Path, external_dir: Path | None, severities: dict[str, str]) -> ScanOutput:
    if not files:
        return ScanOutput([], [], [], set())
    _prepare()
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    _load_external(external_dir)
    report = Runner().run(
        root_folder=None, files=[str(f) for f in files],
        runner_filter=RunnerFilter(framework=["kubernetes"], show_progress_bar=False),
    )
    return _collect(report, build_dir, "kubernetes", severities)


def _load_external(directory: Path | None) -> None:
    """Load our checks (policies/checks) into checkov's resource and graph registries, once per process,
    the way ``Runner.run(external_checks_dir=...)`` does.

    checkov execs each check file through the import system, which would write ``__pycache__/`` into the
    checkout next to them; no bytecode is written while they load (whatever PYTHONDONTWRITEBYTECODE says).
    """
    dirs = _external(directory)
    if not dirs:
        return
    import sys

    from checkov.common.checks_infra.registry import get_graph_checks_registry
    from checkov.kubernetes.checks.resource.registry import registry

    previous, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        for d in dirs:
            registry.load_external_checks(d)
            get_graph_checks_registry("kubernetes").load_external_checks(d)
    finally:
        sys.dont_write_bytecode = previous


def _per_file(out: ScanOutput, files: list[Path], build_dir: Path) -> dict[str, ScanOutput]:
    """Split one scan's results by build-dir-relative file; every scanned file gets an entry (maybe empty)."""
    root = build_dir.resolve()
    by_file = {f.resolve().relative_to(root).as_posix(): ScanOutput([], [], [], set()) for f in files}
    for attr in ("passed", "failed", "skipped"):
        for finding in getattr(out, attr):
            entry = by_file.setdefault(finding.file, ScanOutput([], [], [], set()))
            getattr(entry, attr).append(finding)
            if finding.source == "checkov":
                entry.ran.add(finding.check_id)
    return by_file


def _runner_classes() -> tuple[type, type]:
    """checkov's kubernetes runner split in its two halves (its documented override points):
    resource checks without building the graph, and graph (CKV2) checks without the resource checks."""
    from checkov.kubernetes.runner import Runner

    class ResourceChecksRunner(Runner):
        def __init__(self) -> None:
            super().__init__()
            self.graph_manager = None  # run(): no graph build, no graph checks, no image referencer

    class GraphChecksRunner(Runner):
        def check_definitions(self, root_folder, runner_filter, report, collect_skip_comments=True):  # noqa: ANN001
            return report

    return ResourceChecksRunner, GraphChecksRunner


def scan_kubernetes_files(files: list[Path], build_dir: Path, external_dir: Path | None,
                          severities: dict[str, str]) -> dict[str, ScanOutput]:
    """checkov's resource checks (built-in and ours) on ``files``; results per file. Each object's
    results depend on that object only, which is what lets the gate cache them per file."""
    if not files:
        return {}
    _prepare()
    _load_external(external_dir)
    from checkov.runner_filter import RunnerFilter

    resource_runner, _ = _runner_classes()
    report = resource_runner().run(root_folder=None, files=[str(f) for f in files],
                                   runner_filter=RunnerFilter(framework=["kubernetes"], show_progress_bar=False))
    return _per_file(_collect(report, build_dir, "kubernetes", severities), files, build_dir)


def scan_kubernetes_graph(files: list[Path], build_dir: Path, external_dir: Path | None,
                          severities: dict[str, str]) -> ScanOutput:
    """checkov's graph (CKV2) checks on ``files``: the graph is built from exactly these objects."""
    if not files:
        return ScanOutput([], [], [], set())
    _prepare()
    _load_external(external_dir)
    from checkov.runner_filter import RunnerFilter

    _, graph_runner = _runner_classes()
    report = graph_runner().run(root_folder=None, files=[str(f) for f in files],
                                runner_filter=RunnerFilter(framework=["kubernetes"], show_progress_bar=False))
    out = _collect(report, build_dir, "kubernetes", severities)
    out.failed = [f for f in out.failed if f.check_id != "CKV_PARSE"]  # reported once, by the resource scan
    return out


def graph_subset(files: list[Path], kinds: list[str | None], graph_kinds: list[str] | None) -> list[int]:
    """Indexes of the files the graph checks must see: every file of a graph-visible kind, and any
    file whose kind the gate could not tell (not one parseable object)."""
    if graph_kinds is None:
        return list(range(len(files)))
    wanted = set(graph_kinds)
    return [i for i, kind in enumerate(kinds) if kind is None or kind in wanted]


def scan_kubernetes_graph_subset(files: list[Path], kinds: list[str | None], build_dir: Path,
                                 external_dir: Path | None, severities: dict[str, str]) -> tuple[list[int], ScanOutput]:
    """:func:`scan_kubernetes_graph` on the :func:`graph_subset` of ``files`` (when the parent does not
    know the graph kinds yet); returns the subset's indexes too."""
    subset = graph_subset(files, kinds, graph_check_kinds(external_dir))
    return subset, scan_kubernetes_graph([files[i] for i in subset], build_dir, external_dir, severities)


def graph_check_kinds(external_dir: Path | None = None) -> list[str] | None:
    """The kinds any loaded graph check can look at (its resource and connected types), or None for all.

    A graph check's verdict on an object depends on that object and the objects it connects to, and only
    vertices of these kinds are ever evaluated or connected; so the graph checks give the same results on
    the subset of objects of these kinds as on the whole stack (tests/gate/test_object_cache.py checks it).
    A Deployment-like object counts as a Pod: checkov splits its pod template into a Pod vertex.
    """
    _prepare()
    _load_external(external_dir)
    from checkov.common.checks_infra.registry import get_graph_checks_registry
    from checkov.kubernetes.kubernetes_utils import SUPPORTED_POD_CONTAINERS_TYPES

    graph = get_graph_checks_registry("kubernetes")
    if not graph.checks:
        graph.load_checks()
    kinds: set[str] = set()

    def walk(check: Any) -> None:
        kinds.update(getattr(check, "resource_types", None) or [])
        kinds.update(getattr(check, "connected_resources_types", None) or [])
        for sub in getattr(check, "sub_checks", None) or []:
            walk(sub)

    for check in graph.checks:
        top = set(getattr(check, "resource_types", None) or [])
        if not top or "all" in top:
            return None
        walk(check)
    if "all" in kinds:
        return None
    if "Pod" in kinds:
        kinds |= set(SUPPORTED_POD_CONTAINERS_TYPES)
    return sorted(kinds)


def scan_dockerfile_files(files: list[Path], build_dir: Path, severities: dict[str, str]) -> dict[str, ScanOutput]:
    """checkov's dockerfile checks, results per file (each Dockerfile is judged on its own)."""
    return _per_file(scan_dockerfiles(files, build_dir, severities), files, build_dir) if files else {}


def check_catalog(external_dir: Path | None) -> dict[str, Any]:
    """What the loaded check set is, independent of any stack (cached by the gate per check set)."""
    _prepare()
    _load_external(external_dir)
    return {"builtins": builtin_checks(), "kinds": kubernetes_check_kinds(), "graph_kinds": graph_check_kinds(external_dir),
            **graph_check_groups(external_dir)}


def graph_check_groups(external_dir: Path | None = None) -> dict[str, Any]:
    """The loaded graph checks' groups and hub kinds (:func:`slm_deploy.gate.graph_partition.graph_groups`)."""
    _prepare()
    _load_external(external_dir)
    from checkov.common.checks_infra.registry import get_graph_checks_registry
    from checkov.kubernetes.kubernetes_utils import SUPPORTED_POD_CONTAINERS_TYPES

    from slm_deploy.gate.graph_partition import graph_groups

    graph = get_graph_checks_registry("kubernetes")
    if not graph.checks:
        graph.load_checks()
    pod_kinds = sorted(SUPPORTED_POD_CONTAINERS_TYPES)
    return {"graph_groups": graph_groups(graph.checks, set(pod_kinds)), "pod_kinds": pod_kinds}


def scan_dockerfiles(files: list[Path], build_dir: Path, severities: dict[str, str]) -> ScanOutput:
    if not files:
        return ScanOutput([], [], [], set())
    _prepare()
    from checkov.dockerfile.runner import Runner
    from checkov.runner_filter import RunnerFilter

    report = Runner().run(
        root_folder=None, files=[str(f) for f in files],
        runner_filter=RunnerFilter(framework=["dockerfile"], show_progress_bar=False),
    )
    return _collect(report, build_dir, "dockerfile", severities)


def _description(check: Any) -> str:
    """checkov's description of a check where the object carries one (``description`` or ``details``)."""
    text = getattr(check, "description", None)
    if not text:
        details = getattr(check, "details", None) or []
        text = " ".join(str(d) for d in details) if isinstance(details, (list, tuple)) else str(details)
    return str(text or "").strip()


def _targets(check: Any, framework: str) -> str:
    """What a check judges, for "not applicable" reasons: Kubernetes kinds, or Dockerfile instructions."""
    kinds = list(getattr(check, "supported_entities", None) or getattr(check, "resource_types", None) or [])
    if framework == "dockerfile":
        return "Dockerfiles" if not kinds or "*" in kinds else "Dockerfile " + ", ".join(sorted(kinds))
    return ", ".join(sorted(kinds))


def builtin_checks() -> list[dict[str, str]]:
    """Every built-in kubernetes and dockerfile check (resource and graph checks) checkov ships."""
    _prepare()
    from checkov.common.checks_infra.registry import get_graph_checks_registry
    from checkov.dockerfile.registry import registry as docker_registry
    from checkov.kubernetes.checks.resource.registry import registry as k8s_registry

    found: dict[str, dict[str, str]] = {}
    for framework, registry in (("kubernetes", k8s_registry), ("dockerfile", docker_registry)):
        groups = list(registry.checks.values()) + list(registry.wildcard_checks.values())
        for check in (c for group in groups for c in group):
            if type(check).__module__.startswith("checkov."):
                found[check.id] = {"id": check.id, "name": check.name, "framework": framework,
                                   "guideline": check.guideline or "", "description": _description(check),
                                   "targets": _targets(check, framework)}
        graph = get_graph_checks_registry(framework)
        if not graph.checks:
            graph.load_checks()
        for check in graph.checks:
            if check.id.startswith("CKV2_"):
                found[check.id] = {"id": check.id, "name": check.name, "framework": framework,
                                   "guideline": getattr(check, "guideline", None) or "",
                                   "description": _description(check), "targets": _targets(check, framework)}
    return sorted(found.values(), key=lambda c: c["id"])


def kubernetes_check_kinds() -> list[str]:
    """Every Kubernetes kind at least one loaded check (built-in, graph or ours) applies to.

    The gate's coverage proof: an object of such a kind that got no checkov result at all was not
    scanned (checkov silently drops files it takes for Helm templates, for instance).
    """
    _prepare()
    from checkov.common.checks_infra.registry import get_graph_checks_registry
    from checkov.kubernetes.checks.resource.registry import registry as k8s_registry

    kinds = {kind for kind, checks in k8s_registry.checks.items() if checks}
    graph = get_graph_checks_registry("kubernetes")
    if not graph.checks:
        graph.load_checks()
    for check in graph.checks:
        kinds |= set(getattr(check, "resource_types", None) or [])
    return sorted(kinds)


# --------------------------------------------------------------------------- inline suppressions

_ANNOTATION = re.compile(r"checkov\.io/skip[\w-]*['\"]?\s*:\s*['\"]?([A-Za-z0-9_]+)")
_COMMENT = re.compile(r"checkov:skip\s*=\s*([A-Za-z0-9_]+)")
_DOCKERFILE = re.compile(r"^(Dockerfile(\..+)?|.+\.[Dd]ockerfile)$")


def find_dockerfiles(build_dir: Path, build: "BuildFiles | None" = None) -> list[Path]:
    """Every Dockerfile of the build (not under ``gate/``), in path order. ``build``: the gate run's one read of
    ``build_dir`` (:class:`~slm_deploy.gate.build_files.BuildFiles`, which leaves out ``gate/``), instead of a walk."""
    if build is not None and "gate" in build.skip_top:
        return [build_dir / rel for rel in build.data if _DOCKERFILE.match(rel.rpartition("/")[2])]
    return sorted(
        p for p in build_dir.rglob("*")
        if p.is_file() and _DOCKERFILE.match(p.name) and "gate" not in p.relative_to(build_dir).parts[:1]
    )


@dataclass(frozen=True)
class InlineHit:
    check_id: str
    file: str
    line: int
    text: str


def _compose_service_at(lines: list[str], index: int) -> str | None:
    """Name of the compose service whose block holds line ``index`` (top-level `services:` map)."""
    in_services, current = False, None
    for i, line in enumerate(lines[: index + 1]):
        if re.match(r"^services:\s*$", line):
            in_services, current = True, None
        elif re.match(r"^\S", line) and not line.startswith("#"):
            in_services, current = False, None
        elif in_services and (m := re.match(r"^  ([^\s#][^:]*):\s*$", line)):
            current = m.group(1).strip("'\"")
    return current


def scan_inline_suppressions(build_dir: Path, skip_dirs: tuple[str, ...] = ("gate",),
                             build: "BuildFiles | None" = None) -> list[Finding]:
    """Every checkov suppression (annotation or comment) written anywhere in the rendered output.

    ``build``: the gate run's one read of ``build_dir`` (:class:`~slm_deploy.gate.build_files.BuildFiles`) leaving
    out exactly ``skip_dirs``: its bytes are searched instead of walking and reading the tree again. A file whose
    bytes hold no ``checkov`` is skipped unread as text (the text of a UTF-8 or other ASCII-compatible file holds
    ``checkov`` only where its bytes do); one that does is decoded as ``Path.read_text`` decodes it."""
    hits: list[Finding] = []
    if build is not None and tuple(build.skip_top) == tuple(skip_dirs):
        for rel, raw in build.data.items():
            if b"checkov" not in raw:
                continue
            try:
                text = _read_text(raw)
            except UnicodeDecodeError:
                continue
            hits += _inline_hits(rel, text)
        return hits
    for path in sorted(build_dir.rglob("*")):
        if not path.is_file() or path.relative_to(build_dir).parts[0] in skip_dirs:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if "checkov" not in text:
            continue
        hits += _inline_hits(path.relative_to(build_dir).as_posix(), text)
    return hits


def _read_text(raw: bytes) -> str:
    """``Path.read_text()`` of a file holding ``raw``: the locale's encoding, strict, universal newlines."""
    import locale

    return raw.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


def _inline_hits(rel: str, text: str) -> list[Finding]:
    """The inline suppressions in one rendered file's text (``rel``: its build-relative path)."""
    hits: list[Finding] = []
    lines = text.splitlines()
    obj: dict[str, Any] | None = None
    if rel.startswith("manifests/"):
        try:
            obj = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError:
            obj = None
    file_name = rel.rpartition("/")[2]
    for n, line in enumerate(lines):
        for pattern in (_ANNOTATION, _COMMENT):
            for m in pattern.finditer(line):
                check_id = m.group(1)
                if isinstance(obj, dict):
                    resource = k8s_resource_id(obj)
                    kind, ns, name = split_k8s_resource(resource)
                elif _DOCKERFILE.match(file_name):
                    resource, kind, ns, name = f"Dockerfile.{rel}", "Dockerfile", "", rel
                elif rel == "compose.yaml" and (svc := _compose_service_at(lines, n)):
                    resource, kind, ns, name = f"service.{svc}", "service", "", svc
                else:
                    resource, kind, ns, name = f"File.{rel}", "File", "", rel
                hits.append(Finding(
                    check_id, f"inline suppression of {check_id}", resource, rel,
                    f"line {n + 1}: {line.strip()[:160]}", source="gate", kind=kind, namespace=ns, name=name,
                    line=n + 1,
                ))
    return hits
