"""The per-object result cache (slm_deploy/gate/object_cache.py, incremental.py) never changes a verdict.

* splitting checkov's run (resource checks per file, graph checks on the graph-visible subset) gives
  exactly checkov's own full run;
* after a change to one object, the cached run equals an uncached run, a changed object is re-judged,
  unchanged ones are not, and a cross-object (graph) finding appears and disappears with the one object.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from gate_helpers import PLAIN_DEPLOYMENT, REPO, copy_build, write_build
from slm_deploy.gate import run_gate, scan
from slm_deploy.gate.cache import cache_dir
from slm_deploy.gate.object_cache import fingerprint

GOLDEN = REPO / "tests" / "golden"

APP = {"app": "demo"}
DEPLOYMENT = copy.deepcopy(PLAIN_DEPLOYMENT)
DEPLOYMENT["metadata"]["name"] = "demo"
DEPLOYMENT["spec"]["selector"]["matchLabels"] = dict(APP)
DEPLOYMENT["spec"]["template"]["metadata"]["labels"] = dict(APP)
NETWORK_POLICY = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "demo", "namespace": "demo"},
    "spec": {"podSelector": {"matchLabels": dict(APP)}, "policyTypes": ["Ingress"]},
}
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo", "namespace": "demo"},
              "data": {"a": "1"}}
RBAC = [
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "demo", "namespace": "demo"}},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader", "namespace": "demo"},
     "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
     "metadata": {"name": "reader", "namespace": "demo"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
     "subjects": [{"kind": "ServiceAccount", "name": "demo", "namespace": "demo"}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "nodes"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "missing"},
     "subjects": [{"kind": "User", "name": "someone"}]},
]


def _checkov_full(files: list[Path]) -> list[tuple]:
    """checkov's own run: one Runner, resource and graph checks on every file."""
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    scan._prepare()
    report = Runner().run(root_folder=None, files=[str(f) for f in files], external_checks_dir=None,
                          runner_filter=RunnerFilter(framework=["kubernetes"], show_progress_bar=False))
    return sorted((r.check_id, r.resource, Path(r.file_abs_path).name, str(r.check_result["result"]),
                   tuple(r.file_line_range)) for r in report.passed_checks + report.failed_checks + report.skipped_checks)


def _split(files: list[Path], build: Path) -> list[tuple]:
    kinds = [yaml.safe_load(f.read_text()).get("kind") for f in files]
    outs = list(scan.scan_kubernetes_files(files, build, None, {}).values())
    outs.append(scan.scan_kubernetes_graph_subset(files, kinds, build, None, {})[1])
    rows = []
    for out in outs:
        for label, findings in (("PASSED", out.passed), ("FAILED", out.failed), ("SKIPPED", out.skipped)):
            rows += [(f.check_id, f.resource, Path(f.file).name, f"CheckResult.{label}", f.line) for f in findings]
    return sorted(rows)


@pytest.mark.parametrize("stack", ["prod", "cpu", "rbac"])
def test_split_scans_equal_checkovs_own_run(stack, tmp_path):
    if stack == "rbac":
        build = write_build(tmp_path / "b", [DEPLOYMENT, NETWORK_POLICY, CONFIG_MAP, *RBAC])
    else:
        build = copy_build(GOLDEN / stack, tmp_path / "b")
    files = sorted((build / "manifests").glob("*.yaml"))
    full = _checkov_full(files)
    assert {row[0] for row in full} & {"CKV2_K8S_6", "CKV2_K8S_1"} or stack != "rbac"
    assert [row[:4] + (row[4][0],) for row in full] == _split(files, build)


def test_graph_subset_drops_only_kinds_no_graph_check_sees():
    kinds = scan.graph_check_kinds()
    assert kinds is not None and {"Pod", "Deployment", "NetworkPolicy", "RoleBinding", "ClusterRole"} <= set(kinds)
    assert "ConfigMap" not in kinds and "Service" not in kinds


def _rows(result) -> list[tuple]:
    return sorted((f.check_id, f.resource, f.file, f.message) for f in result.passed + result.failed + result.waived)


def _gate(build: Path):
    cached = run_gate(build, "demo", write_reports=False)
    assert not cached.cached
    fresh = run_gate(build, "demo", use_cache=False, write_reports=False)
    assert _rows(cached) == _rows(fresh)  # the per-object cache never changes the verdict
    return cached


def _write(build: Path, obj: dict) -> None:
    meta = obj["metadata"]
    (build / "manifests" / f"{meta['namespace']}.{obj['kind'].lower()}.{meta['name']}.yaml").write_text(
        yaml.safe_dump(obj, sort_keys=True))


def _status(result, check_id: str) -> set[str]:
    return {("failed " if f in result.failed else "passed ") + f.resource
            for f in result.passed + result.failed if f.check_id == check_id}


def test_cross_object_finding_follows_the_one_object_that_changed(tmp_path):
    build = write_build(tmp_path / "b", [DEPLOYMENT, NETWORK_POLICY, CONFIG_MAP])
    assert _status(_gate(build), "CKV2_K8S_6") == {"passed Pod.demo.demo.app-demo"}

    elsewhere = copy.deepcopy(NETWORK_POLICY)
    elsewhere["spec"]["podSelector"]["matchLabels"] = {"app": "other"}
    _write(build, elsewhere)  # only the NetworkPolicy changed: the Pod now lacks one
    assert _status(_gate(build), "CKV2_K8S_6") == {"failed Pod.demo.demo.app-demo"}

    _write(build, NETWORK_POLICY)  # back: the cached graph result for this exact set is correct again
    assert _status(_gate(build), "CKV2_K8S_6") == {"passed Pod.demo.demo.app-demo"}

    (build / "manifests" / "demo.networkpolicy.demo.yaml").unlink()  # gone: the finding appears
    assert _status(_gate(build), "CKV2_K8S_6") == {"failed Pod.demo.demo.app-demo"}


def test_changed_object_is_rejudged_and_unchanged_ones_are_not(tmp_path, monkeypatch):
    build = write_build(tmp_path / "b", [DEPLOYMENT, NETWORK_POLICY, CONFIG_MAP])
    _gate(build)
    asked: list[list[str]] = []
    graph: list[list[str]] = []
    real_files, real_graph = scan.scan_kubernetes_files, scan.scan_kubernetes_graph
    monkeypatch.setattr(scan, "scan_kubernetes_files",
                        lambda files, *a: asked.append(sorted(f.name for f in files)) or real_files(files, *a))
    monkeypatch.setattr(scan, "scan_kubernetes_graph",
                        lambda files, *a: graph.append(sorted(f.name for f in files)) or real_graph(files, *a))

    changed = copy.deepcopy(CONFIG_MAP)
    changed["data"]["a"] = "2"
    _write(build, changed)
    run_gate(build, "demo", write_reports=False)
    assert asked == [["demo.configmap.demo.yaml"]]  # only the changed object went to checkov
    assert graph == []  # no graph check can see a ConfigMap: the graph results stay

    asked.clear()
    privileged = copy.deepcopy(DEPLOYMENT)
    privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    _write(build, privileged)
    result = run_gate(build, "demo", write_reports=False)
    assert asked == [["demo.deployment.demo.yaml"]]
    assert graph == [["demo.deployment.demo.yaml", "demo.networkpolicy.demo.yaml"]]  # a graph-visible kind changed
    assert "CKV_K8S_16" in {f.check_id for f in result.failed}  # privileged container: re-judged
    monkeypatch.undo()
    assert _rows(result) == _rows(run_gate(build, "demo", use_cache=False, write_reports=False))


def test_store_keeps_only_the_last_runs_entries(tmp_path):
    build = write_build(tmp_path / "b", [DEPLOYMENT, NETWORK_POLICY, CONFIG_MAP])
    _gate(build)
    changed = copy.deepcopy(CONFIG_MAP)
    changed["data"]["a"] = "3"
    _write(build, changed)
    _gate(build)
    store = json.loads((cache_dir() / "objects" / "demo.json").read_text())
    assert len(store["files"]) == 3 and len(store["graph"]) == 2  # graph results per file: Deployment, NetworkPolicy
    assert store["fingerprint"] == fingerprint(REPO / "policies")


def test_fingerprint_covers_the_check_set(tmp_path):
    policies = tmp_path / "policies"
    (policies / "checks").mkdir(parents=True)
    (policies / "checks" / "x.py").write_text("# a check\n")
    before = fingerprint(policies)
    (policies / "checks" / "x.py").write_text("# a changed check\n")
    assert fingerprint(policies) != before


def test_objects_json_cannot_hold_are_parsed_every_time(tmp_path):
    from slm_deploy.gate.incremental import lookup
    from slm_deploy.gate.object_cache import ObjectStore

    build = write_build(tmp_path / "b", [CONFIG_MAP])
    path = build / "manifests" / "demo.configmap.demo.yaml"
    path.write_text(path.read_text() + "extra:\n  1: when\n  since: 2024-01-01\n")
    for _ in range(2):
        store = ObjectStore("demo", "fp", tmp_path / "cache")
        parsed = lookup(store, build, [path], []).parse_manifests()
        store.save()
        assert parsed[path]["extra"] == yaml.safe_load(path.read_text())["extra"]  # int key and date kept
    plain = build / "manifests" / "demo.configmap.plain.yaml"
    plain.write_text(yaml.safe_dump(CONFIG_MAP))
    for _ in range(2):
        store = ObjectStore("demo", "fp", tmp_path / "cache")
        plan = lookup(store, build, [plain], [])
        assert plan.parse_manifests()[plain] == CONFIG_MAP
        store.save()
    assert "object" in plan.cached[plan.keys[plain]]


@pytest.mark.parametrize("extra", [
    "extra:\n  big: 1180591620717411303424\n",  # 2**70: beyond orjson's 64-bit integers
    "extra:\n  small: -1180591620717411303424\n",
    "extra:\n  nan: .nan\n",  # orjson writes NaN and infinity as null
    "extra:\n  inf: .inf\n",
    "extra:\n  true: yes\n",  # a non-string key (bool)
    "extra:\n  when: 2024-01-01T10:00:00Z\n",  # a datetime
])
def test_values_the_store_cannot_carry_exactly_are_never_served_from_it(tmp_path, extra):
    import math

    from slm_deploy.gate.incremental import lookup
    from slm_deploy.gate.object_cache import ObjectStore

    build = write_build(tmp_path / "b", [CONFIG_MAP])
    path = build / "manifests" / "demo.configmap.demo.yaml"
    path.write_text(path.read_text() + extra)
    expected = yaml.safe_load(path.read_text())["extra"]
    for _ in range(2):
        store = ObjectStore("demo", "fp", tmp_path / "cache")
        plan = lookup(store, build, [path], [])
        got = plan.parse_manifests()[path]["extra"]
        store.save()
        assert "object" not in plan.cached.get(plan.keys[path], {})
        (key, value), = got.items()
        (want_key, want), = expected.items()
        assert key == want_key and type(key) is type(want_key) and type(value) is type(want)
        assert value == want or (isinstance(want, float) and math.isnan(want) and math.isnan(value))


def test_slm_check_metadata_kept_under_the_fingerprint(tmp_path):
    """The store lists our checks once per check set (slm_deploy/gate/object_cache.py, ``slm_checks``): what it gives
    back is what ``policies.registry.list_slm_checks`` gives, field for field (tuples stay tuples); another
    fingerprint or a record of other fields lists them again."""
    from policies.registry import list_slm_checks
    from slm_deploy.gate.object_cache import ObjectStore

    fresh = list_slm_checks()
    first = ObjectStore("s", "fp", tmp_path)
    assert first.slm_checks() == fresh
    first.save()
    again = ObjectStore("s", "fp", tmp_path)
    assert again._old["slm_checks"] is not None
    kept = again.slm_checks()
    assert kept == fresh and [type(m.kinds) for m in kept] == [tuple] * len(kept)
    assert any(m.kinds for m in kept)
    assert ObjectStore("s", "other", tmp_path)._old["slm_checks"] is None
    again._old["slm_checks"]["fields"] = ["id", "name"]  # a record of another shape: listed again
    assert again.slm_checks() == fresh
    assert ObjectStore("s", "fp", None).slm_checks() == fresh  # no cache directory
