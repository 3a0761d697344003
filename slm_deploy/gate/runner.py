"""Gate runner: scans exactly what Pulumi would apply (the rendered build dir) and returns a verdict.

One run, in-process:
1. kubernetes-validate strict on every manifest (oldest and newest supported Kubernetes);
2. checkov's built-in kubernetes checks (ALL) + our checkov adapters (policies/checks) on manifests/;
3. checkov's built-in dockerfile checks (ALL) on every generated Dockerfile;
4. our compose checks on compose.yaml and our cross-resource rules on the manifest set;
5. inline suppressions anywhere in the rendered output, which only a reviewed waiver can back;
6. waivers (policies/waivers.yaml) and component opt-outs (opt-outs.json), expiry, staleness;
7. reports in build/<stack>/gate/ (SARIF, JUnit, Markdown, verdict.json).

The verdict is cached by content hash (see :mod:`slm_deploy.gate.cache`): an unchanged stack
re-gates without importing checkov.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from slm_deploy.gate.cache import cache_disabled, cache_key, load_cached, store_cached
from slm_deploy.gate.progress import phase, phase_done
from slm_deploy.gate.result import GATE_CHECKS, Finding, GateResult, Waived, WaiverRef
from slm_deploy.gc_pause import gc_paused

if TYPE_CHECKING:
    from slm_deploy.gate.build_files import BuildFiles
    from slm_deploy.gate.incremental import Plan
    from slm_deploy.gate.worker import ScanWorker

__all__ = [
    "Finding", "GateResult", "Waived", "WaiverRef", "run_gate", "default_policies_dir", "default_waivers_path",
    "waivers_display_path", "waiver_file_record",
]


def default_policies_dir() -> Path:
    from slm_deploy.gate.result import project_root

    return project_root() / "policies"


def default_waivers_path() -> Path:
    env = os.environ.get("SLM_DEPLOY_WAIVERS")
    return Path(env) if env else default_policies_dir() / "waivers.yaml"


def waiver_file_record(path: Path) -> dict:
    """The waiver file a verdict used, for every report: path, sha256 of its bytes, and whether
    ``SLM_DEPLOY_WAIVERS`` replaced the reviewed ``policies/waivers.yaml``."""
    import hashlib

    path = Path(path)
    reviewed = (default_policies_dir() / "waivers.yaml").resolve()
    data = path.read_bytes() if path.is_file() else b""
    return {"path": waivers_display_path(path), "sha256": hashlib.sha256(data).hexdigest() if path.is_file() else "",
            "override": path.resolve() != reviewed}


def waivers_display_path(path: Path) -> str:
    """How findings and messages name the waiver file: repo-relative inside the repo, else absolute."""
    from slm_deploy.gate.result import project_root

    try:
        return Path(path).resolve().relative_to(project_root().resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def run_gate(
    build_dir: Path,
    stack: str,
    *,
    use_cache: bool | None = None,
    waivers_path: Path | None = None,
    today: date | None = None,
    write_reports: bool = True,
    worker: "ScanWorker | None" = None,
) -> GateResult:
    """Gate one rendered stack. ``use_cache`` defaults to on unless ``SLM_DEPLOY_NO_CACHE=1``.

    ``worker`` (a prewarmed :class:`~slm_deploy.gate.worker.ScanWorker`) runs the checkov scans
    in a child process that imported checkov while the stack was being synthesized.
    """
    with gc_paused():  # see slm_deploy/gc_pause.py
        return _run_gate(Path(build_dir), stack, use_cache, waivers_path, today, write_reports, worker)


def _run_gate(build_dir: Path, stack: str, use_cache: bool | None, waivers_path: Path | None, today: date | None,
              write_reports: bool, worker: "ScanWorker | None") -> GateResult:
    today = today or date.today()
    policies_dir = default_policies_dir()
    waivers_path = waivers_path or default_waivers_path()
    use_cache = (not cache_disabled()) if use_cache is None else use_cache

    from slm_deploy.gate.build_files import BuildFiles

    build = BuildFiles.read(build_dir)  # the run's one read of the build (slm_deploy/gate/build_files.py)
    key = cache_key(build_dir, stack, policies_dir, waivers_path, today, build)
    result = load_cached(stack, key) if use_cache else None
    if result is not None:
        with phase("gate") as info:
            info["what"] = "cached verdict (nothing changed since the last run): no validate, no checkov"
    if result is None:
        result = _evaluate(build_dir, stack, policies_dir, waivers_path, today, worker, use_cache, build)
        result.cache_key = key
        # Store only a verdict on inputs that did not change while they were judged (another process
        # re-rendering the build dir mid-scan must not leave its half-seen verdict behind as a cache hit):
        # this key reads the build directory again from disk.
        if use_cache and cache_key(build_dir, stack, policies_dir, waivers_path, today) == key:
            store_cached(result)
    if write_reports:
        from slm_deploy.gate.reports import write_reports as _write

        with phase("reports") as info:
            result.reports = _write(result, build_dir)
            info["what"] = f"-> {build_dir / 'gate'}/ (report.md, report.sarif, junit.xml)"
    return result


def _gate_finding(check_id: str, resource: str, file: str, message: str, *, kind: str = "", name: str = "",
                  namespace: str = "", line: int = 0) -> Finding:
    return Finding(check_id, GATE_CHECKS[check_id][0], resource, file, message, severity="HIGH", source="gate",
                   kind=kind or "File", namespace=namespace, name=name or resource, line=line)


_SCHEMAS_IN_WORKER = 16
"""A re-gate (the check catalog cached, at most this many manifests to validate and to scan) validates them in the prewarmed worker, which
imported kubernetes-validate while the stack was synthesized (slm_deploy/gate/worker.py); the parent then never
imports jsonschema. A larger batch (a cold gate) is validated here, while the worker runs checkov's scans."""


class _SchemaWork:
    """kubernetes-validate of the manifests ``plan`` has no cached errors for: started (in the worker, for a
    handful) before the checkov jobs are submitted, finished by :func:`_schema`."""

    def __init__(self, manifests: dict[Path, dict], plan: "Plan | None", worker: "ScanWorker | None"):
        self.known = {p: plan.schema_errors(p) for p in manifests} if plan is not None else {}
        self.todo = {p: obj for p, obj in manifests.items() if self.known.get(p) is None}
        self.pending = None
        if (worker is not None and plan is not None and 0 < len(self.todo) <= _SCHEMAS_IN_WORKER
                and len(plan.missing["checkov"]) <= _SCHEMAS_IN_WORKER and plan.store.catalog() is not None):
            # submitted before the checkov jobs: one worker answers in submission order (slm_deploy/gate/worker.py)
            self.pending = worker.submit("validate_schemas", {p.name: obj for p, obj in self.todo.items()})

    def errors(self) -> list[tuple[str, str, str]]:
        if self.pending is not None:
            return self.pending.result()
        from slm_deploy.gate.schema_validation import validate_objects

        return validate_objects({p.name: obj for p, obj in self.todo.items()})


def _schema(build_dir: Path, manifests: dict[Path, dict], plan: "Plan | None" = None,
            work: _SchemaWork | None = None) -> tuple[list[Finding], list[Finding]]:
    """kubernetes-validate (strict) on every manifest; a manifest whose errors ``plan`` has cached is not re-validated
    (``work``: started by the caller, see :class:`_SchemaWork`)."""
    from slm_deploy.gate.scan import k8s_resource_id, split_k8s_resource

    name = GATE_CHECKS["K8S_SCHEMA"][0]
    work = work or _SchemaWork(manifests, plan, None)
    known, todo = work.known, work.todo
    errors: dict[str, list[str]] = {}
    for file, version, error in work.errors():
        errors.setdefault(file, []).append(f"Kubernetes {version}: {error}")
    for path in todo:
        known[path] = errors.get(path.name, [])
        if plan is not None:
            plan.put_schema(path, known[path])
    passed, failed = [], []
    for path, obj in manifests.items():
        resource = k8s_resource_id(obj if isinstance(obj, dict) else {})
        kind, ns, obj_name = split_k8s_resource(resource)
        rel = plan.rels[path] if plan is not None else path.relative_to(build_dir).as_posix()
        problems = known[path]
        finding = Finding("K8S_SCHEMA", name, resource, rel, "; ".join(problems or []), source="schema",
                          kind=kind, namespace=ns, name=obj_name)
        (failed if problems else passed).append(finding)
    return passed, failed


def _policy_finding(f, source: str) -> Finding:
    """policies.rules._types.Finding -> gate Finding."""
    from slm_deploy.gate.scan import split_k8s_resource

    if f.resource.startswith("service."):
        kind, ns, name = "service", "", f.resource[len("service."):]
    else:
        kind, ns, name = split_k8s_resource(f.resource)
    return Finding(f.check_id, f.check_name, f.resource, f.file_path, "; ".join(f.reasons), severity=f.severity,
                   source=source, kind=kind, namespace=ns, name=name)


def _evaluate(build_dir: Path, stack: str, policies_dir: Path, waivers_path: Path, today: date,
              worker: "ScanWorker | None" = None, use_cache: bool = True,
              build: "BuildFiles | None" = None) -> GateResult:
    from slm_deploy.gate.scan import find_dockerfiles, scan_inline_suppressions
    from slm_deploy.gate.waivers import (
        DEFAULT_MAX_EXPIRY_DAYS, OPT_OUT_CHECK, InlineSkip, WaiverFileError, apply_exceptions, compose_service_names,
        load_waiver_file, unknown_checks,
    )

    result = GateResult(stack)
    manifests = sorted((build_dir / "manifests").glob("*.yaml")) if (build_dir / "manifests").is_dir() else []
    dockerfiles = find_dockerfiles(build_dir, build)
    compose_path = build_dir / "compose.yaml"

    from policies.builtin_severity import builtin_ratings
    from slm_deploy.gate.cache import cache_dir
    from slm_deploy.gate.incremental import lookup
    from slm_deploy.gate.object_cache import ObjectStore, fingerprint

    store = ObjectStore(stack, fingerprint(policies_dir), cache_dir() if use_cache else None)
    ratings = builtin_ratings()
    slm_metas = store.slm_checks()
    severities = {cid: r.severity for cid, r in ratings.items()} | {m.id: m.severity for m in slm_metas}

    passed, failed, skipped = [], [], []
    ran: set[str] = set()

    # checkov's work, minus what the per-object cache already knows: runs in the worker meanwhile.
    plan = lookup(store, build_dir, manifests, dockerfiles, build)
    result.scanned = [plan.rels[p] for p in manifests + dockerfiles] + (["compose.yaml"] if compose_path.exists() else [])
    validate_start = time.perf_counter()
    parsed = plan.parse_manifests()
    schema_work = _SchemaWork(parsed, plan, worker)
    checks_dir = policies_dir / "checks"
    plan.submit(worker, {p: obj.get("kind") if isinstance(obj, dict) and isinstance(obj.get("kind"), str) else None
                         for p, obj in parsed.items()}, checks_dir if checks_dir.is_dir() else None, severities, parsed)

    p, f = _schema(build_dir, parsed, plan, schema_work)
    passed += p
    failed += f
    if manifests:
        ran.add("K8S_SCHEMA")

    compose_doc: dict | None = None
    if compose_path.exists():
        from policies.compose import run_compose_checks

        compose_doc = yaml.safe_load(compose_path.read_text()) or {}
        report = run_compose_checks(compose_doc, "compose.yaml", base_dir=build_dir)  # file configs: files/...
        passed += [_policy_finding(x, "compose") for x in report.passed_checks]
        failed += [_policy_finding(x, "compose") for x in report.failed_checks]
        ran |= {x.check_id for x in report.passed_checks + report.failed_checks}

    if manifests:
        from policies.rules.manifest_set import check_manifest_set
        from slm_deploy.gate.scan import k8s_resource_id

        paths = {}
        for path, obj in parsed.items():
            if isinstance(obj, dict):
                paths[k8s_resource_id(obj)] = plan.rels[path]
        for x in check_manifest_set(plan.stripped_copies(parsed), paths, copies=True):
            (passed if x.passed else failed).append(_policy_finding(x, "manifest-set"))
            ran.add(x.check_id)

    from slm_deploy.gate.alert_rules import check_rule_files

    p, f = check_rule_files(build_dir, parsed, store, build)
    passed += p
    failed += f
    if p or f:
        ran.add("PROMTOOL_RULES")

    from slm_deploy.gate.apply_validity import apply_findings

    p, f, r = apply_findings(build_dir, parsed, compose_doc, plan.own_apply, plan.rels)
    passed, failed, ran = passed + p, failed + f, ran | r

    phase_done("validate", validate_start, f"{len(manifests)} manifests: strict Kubernetes schemas; compose, "
               "manifest-set and alert-rule checks")
    checkov_start = time.perf_counter()
    scans, catalog = plan.finish()
    store.save()
    builtins, kinds = catalog["builtins"], set(catalog["kinds"])
    for out in scans:
        passed += out.passed
        failed += out.failed
        skipped += out.skipped
        ran |= out.ran
    phase_done("checkov", checkov_start, f"{sum(len(o.passed) + len(o.failed) + len(o.skipped) for o in scans)} "
               f"results on {len(manifests)} manifests and {len(dockerfiles)} Dockerfiles (in-process)")

    from slm_deploy.gate.coverage import unscanned

    failed += unscanned(build_dir, parsed, dockerfiles, compose_doc, itertools.chain(passed, failed, skipped), kinds,
                        plan.rels)

    # Inline suppressions: checkov's own skip records plus the gate's text scan of all rendered output.
    inline: dict[tuple[str, str], Finding] = {}
    for s in skipped:
        inline.setdefault((s.check_id, s.resource), s)
    for hit in scan_inline_suppressions(build_dir, build=build):
        inline.setdefault((hit.check_id, hit.resource), hit)

    problems: list[Finding] = []
    waivers_file = waivers_display_path(waivers_path)
    result.waiver_file = waiver_file_record(waivers_path)
    check_table = _check_table(ran, slm_metas, builtins, severities)
    horizon = DEFAULT_MAX_EXPIRY_DAYS
    try:
        parsed_file = load_waiver_file(waivers_path, waivers_file, today)
        waivers, horizon = parsed_file.waivers, parsed_file.max_expiry_days
    except WaiverFileError as exc:
        waivers = []
        problems += [_gate_finding("SLM_GATE_WAIVER_FILE", waivers_file, waivers_file, msg) for msg in exc.problems]
    waivable = {c for c in check_table if c not in GATE_CHECKS} | {"K8S_SCHEMA", OPT_OUT_CHECK}
    for w in unknown_checks(waivers, waivable):
        problems.append(_gate_finding(
            "SLM_GATE_WAIVER_FILE", f"waiver {w.id}", waivers_file,
            f"{waivers_file}: waiver {w.id} names check {w.check}, which the gate does not enforce (see "
            "policies/CATALOG.md); it would back nothing", kind="Waiver", name=w.id or ""))
    waivers = [w for w in waivers if w.check in waivable]

    opt_outs = _opt_outs(build_dir)
    still, waived, self_waivers, stale, expired, opt_rows, opt_problems = apply_exceptions(
        failed, [InlineSkip(f) for f in inline.values()], waivers, opt_outs, stack, today,
        compose_names=compose_service_names(compose_doc), horizon=horizon, waivers_file=waivers_file)
    problems += opt_problems

    for f in self_waivers:
        problems.append(_gate_finding(
            "SLM_GATE_SELF_WAIVER", f.resource, f.file,
            f"inline suppression of {f.check_id} with no waiver in {waivers_file} backing it"
            + (f" ({f.message})" if f.message else ""),
            kind=f.kind, namespace=f.namespace, name=f.name, line=f.line))
    for w in expired:
        problems.append(_gate_finding(
            "SLM_GATE_EXPIRED_WAIVER", f"waiver {w['id']}", waivers_file,
            f"waiver {w['id']} ({w['check']} on {w['resource']}) expired on {w['expires']}: renew it after review "
            "or fix the finding", kind="Waiver", name=w["id"]))

    from slm_deploy.gate.applicability import split_not_applicable

    by_file = {plan.rels[path]: obj for path, obj in parsed.items()}
    passed, result.not_applicable = split_not_applicable(
        passed, by_file, {cid: r.runs for cid, r in ratings.items() if r.runs})
    result.passed = passed
    result.failed = still + problems
    result.waived = waived
    result.self_waivers = self_waivers
    result.stale_waivers = stale
    result.expired_waivers = expired
    result.opt_outs = opt_rows
    result.checks = check_table
    return result


def _opt_outs(build_dir: Path) -> list[dict]:
    path = build_dir / "opt-outs.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text() or "[]")
    return data if isinstance(data, list) else []


def _check_table(ran: set[str], slm_metas: list, builtins: list[dict[str, str]],
                 severities: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every enforced check (the full catalog), so reports can show not-applicable ones too.
    Built-in checks carry our rating (policies/builtin_severity.yaml)."""
    table: dict[str, dict[str, str]] = {}
    for c in builtins:
        table[c["id"]] = {"name": c["name"], "severity": severities.get(c["id"], ""), "framework": c["framework"],
                          "guideline": c["guideline"], "targets": c.get("targets", "")}
    for m in slm_metas:
        row = {"name": m.name, "severity": m.severity, "framework": m.framework, "guideline": m.reference,
               "targets": ", ".join(m.kinds) if m.kinds else ("compose services" if m.framework == "compose" else "")}
        if m.id in table:  # one check on two frameworks (a Kubernetes rule and its Docker twin)
            row |= {k: f"{table[m.id][k]}, {row[k]}" for k in ("framework", "targets") if table[m.id][k] != row[k]}
        table[m.id] = row
    for cid, (name, _) in GATE_CHECKS.items():
        table[cid] = {"name": name, "severity": "HIGH", "framework": "gate", "guideline": ""}
    for cid in ran:
        table.setdefault(cid, {"name": cid, "severity": "", "framework": "", "guideline": ""})
    return dict(sorted(table.items()))
