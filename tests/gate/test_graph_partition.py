"""Graph (CKV2) checks re-run only on what changed (slm_deploy/gate/graph_partition.py), and stay exact.

Every gate run here is compared with an uncached run of the same build; the scans checkov is asked for are
recorded, so a test fails both when a result is wrong and when the partition stops saving work.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from gate_helpers import PLAIN_DEPLOYMENT, write_build
from slm_deploy.gate import run_gate, scan
from slm_deploy.gate.graph_partition import file_keys, graph_groups, scan_set


def _deployment(name: str, tier: str) -> dict:
    obj = copy.deepcopy(PLAIN_DEPLOYMENT)
    obj["metadata"]["name"] = name
    labels = {"app": name, "tier": tier}
    obj["spec"]["selector"]["matchLabels"] = dict(labels)
    obj["spec"]["template"]["metadata"]["labels"] = dict(labels)
    return obj


def _policy(name: str, app: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"podSelector": {"matchLabels": {"tier": app}}, "policyTypes": ["Ingress"]}}


def _write(build: Path, obj: dict) -> None:
    meta = obj["metadata"]
    (build / "manifests" / f"{meta['namespace']}.{obj['kind'].lower()}.{meta['name']}.yaml").write_text(
        yaml.safe_dump(obj, sort_keys=True))


def _rows(result) -> list[tuple]:
    return sorted((f.check_id, f.resource, f.file, f.message) for f in result.passed + result.failed + result.waived)


def _k8s6(result) -> set[str]:
    """CKV2_K8S_6 on each Deployment's Pod, as ``passed app-<deployment name>`` / ``failed ...``."""
    return {("failed " if f in result.failed else "passed ") + "app-" + f.file.split(".")[-2]
            for f in result.passed + result.failed if f.check_id == "CKV2_K8S_6" and f.resource.startswith("Pod.")}


@pytest.fixture
def graph_calls(monkeypatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real = scan.scan_kubernetes_graph
    monkeypatch.setattr(scan, "scan_kubernetes_graph",
                        lambda files, *a: calls.append(sorted(f.name for f in files)) or real(files, *a))
    return calls


def _gate(build: Path, calls: list[list[str]]):
    """(cached run, the graph scans the cached run asked for); an uncached run of the same build must agree."""
    calls.clear()
    cached = run_gate(build, "demo", write_reports=False)
    asked = list(calls)
    fresh = run_gate(build, "demo", use_cache=False, write_reports=False)
    assert _rows(cached) == _rows(fresh)  # the partition never changes a verdict
    return cached, asked


def test_loaded_checks_group_pods_with_network_policies_and_rbac_apart():
    groups = scan.graph_check_groups()
    assert {"kinds": ["NetworkPolicy", "Pod"], "hubs": ["NetworkPolicy"]} in groups["graph_groups"]
    rbac = next(g for g in groups["graph_groups"] if "RoleBinding" in g["kinds"])
    assert rbac["hubs"] is None  # its checks report on Roles too: any change re-judges the whole group
    assert "Deployment" in groups["pod_kinds"] and "Job" in groups["pod_kinds"]


def test_spoke_change_rescans_only_it_with_the_hubs_and_findings_follow(tmp_path, graph_calls):
    build = write_build(tmp_path / "b", [_deployment("a", "x"), _deployment("b", "y"), _policy("np", "x")])
    result, _ = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "failed app-b"}

    _write(build, _deployment("b", "x"))  # only b changed: it now matches the policy, its finding goes
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "passed app-b"}
    assert asked == [["demo.deployment.b.yaml", "demo.networkpolicy.np.yaml"]]  # a is not re-judged

    _write(build, _deployment("c", "z"))  # a new Deployment nothing selects: its finding appears
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "passed app-b", "failed app-c"}
    assert asked == [["demo.deployment.c.yaml"]]  # the policy cannot select tier z: left out (graph_edges)

    _write(build, _deployment("b", "y"))  # b back as it was first: its cached result is wrong now, not reused
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "failed app-b", "failed app-c"}
    assert asked == [["demo.deployment.b.yaml"]]

    (build / "manifests" / "demo.deployment.c.yaml").unlink()  # a spoke removed: nothing else to re-judge
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "failed app-b"} and asked == []


def test_hub_change_rejudges_only_the_pods_it_can_select(tmp_path, graph_calls):
    """A changed, added or removed NetworkPolicy re-judges itself and the pods it can be connected to before or
    after the change (their connected policies changed), each with the policies connected to it; every other pod
    keeps its cached result. Each cached gate equals an uncached full one (_gate)."""
    build = write_build(tmp_path / "b", [_deployment("a", "x"), _deployment("b", "y"), _deployment("c", "z"),
                                         _policy("np", "x")])
    assert _k8s6(_gate(build, graph_calls)[0]) == {"passed app-a", "failed app-b", "failed app-c"}
    _write(build, _policy("np", "y"))  # only the policy changed: a loses its policy, b gains one, c is untouched
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"failed app-a", "passed app-b", "failed app-c"}
    assert asked == [["demo.deployment.a.yaml", "demo.deployment.b.yaml", "demo.networkpolicy.np.yaml"]]
    _write(build, _policy("np2", "x"))  # a second policy: a is covered again; b keeps its result
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "passed app-b", "failed app-c"}
    assert asked == [["demo.deployment.a.yaml", "demo.networkpolicy.np2.yaml"]]
    (build / "manifests" / "demo.networkpolicy.np.yaml").unlink()  # b's only policy removed: its finding appears
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "failed app-b", "failed app-c"}
    assert asked == [["demo.deployment.b.yaml"]]
    _write(build, _policy("np-q", "q"))  # a policy selecting no pod: judged alone, no pod re-judged
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "failed app-b", "failed app-c"}
    assert asked == [["demo.networkpolicy.np-q.yaml"]]
    _write(build, _shaped("np-all", {}))  # selects every pod: every pod re-judged, with the policies it connects to
    result, asked = _gate(build, graph_calls)
    assert _k8s6(result) == {"passed app-a", "passed app-b", "passed app-c"}
    assert asked == [["demo.deployment.a.yaml", "demo.deployment.b.yaml", "demo.deployment.c.yaml",
                      "demo.networkpolicy.np-all.yaml", "demo.networkpolicy.np2.yaml"]]
    for name in ("np2", "np-q", "np-all"):
        (build / "manifests" / f"demo.networkpolicy.{name}.yaml").unlink()  # the hubs gone: all fail
    assert _k8s6(_gate(build, graph_calls)[0]) == {"failed app-a", "failed app-b", "failed app-c"}


def test_keys_and_scan_sets_by_shape():
    groups = [{"kinds": ["NetworkPolicy", "Pod"], "hubs": ["NetworkPolicy"]},
              {"kinds": ["Role", "RoleBinding"], "hubs": None}]
    pods = {"Deployment", "Job"}
    files = {"d1": ("Deployment", "k1"), "j1": ("Job", "k2"), "np": ("NetworkPolicy", "k3"),
             "r": ("Role", "k4"), "rb": ("RoleBinding", "k5")}
    keys = file_keys(files, groups, pods)
    changed = file_keys(dict(files, d1=("Deployment", "k1b")), groups, pods)
    assert [r for r in keys if keys[r] != changed[r]] == ["d1"]  # a spoke: only its own key
    hub = file_keys(dict(files, np=("NetworkPolicy", "k3b")), groups, pods)
    assert {r for r in keys if keys[r] != hub[r]} == {"d1", "j1", "np"}  # a hub, no edges known: every spoke
    edges = {"d1": ["np"], "j1": []}  # np can be connected to d1 only (graph_edges decides it from the objects)
    with_edges = file_keys(files, groups, pods, lambda hubs: lambda spoke: [h for h in edges[spoke] if h in hubs])
    hub = file_keys(dict(files, np=("NetworkPolicy", "k3b")), groups, pods,
                    lambda hubs: lambda spoke: [h for h in edges[spoke] if h in hubs])
    assert {r for r in with_edges if with_edges[r] != hub[r]} == {"d1", "np"}  # a hub: itself and its pods
    role = file_keys(dict(files, r=("Role", "k4b")), groups, pods)
    assert {r for r in keys if keys[r] != role[r]} == {"r", "rb"}  # not spoke-local: its whole group
    assert scan_set(["d1"], files, groups, keys, pods) == ["d1", "np"]
    assert scan_set(["np", "d1", "j1"], files, groups, keys, pods) == ["d1", "j1", "np"]
    assert scan_set(["np"], files, groups, keys, pods) == ["np"]  # a hub alone: its own (empty) results only
    assert scan_set(["rb"], files, groups, keys, pods) == ["r", "rb"]
    unknown = file_keys(dict(files, x=(None, "k6")), groups, pods)  # a file of unknown kind: one group of all
    assert scan_set(["d1"], dict(files, x=(None, "k6")), groups, unknown, pods) == sorted([*files, "x"])


class _Check:
    def __init__(self, rt, ct=(), subs=()):
        self.resource_types, self.connected_resources_types, self.sub_checks = list(rt), list(ct), list(subs)


def test_a_check_reporting_on_a_hub_makes_its_group_not_spoke_local():
    spoke_local = [_Check(["Pod", "Deployment"], subs=[_Check(["Pod", "Deployment"], ["NetworkPolicy"])])]
    assert graph_groups(spoke_local, {"Deployment"}) == [{"kinds": ["NetworkPolicy", "Pod"], "hubs": ["NetworkPolicy"]}]
    on_hub = spoke_local + [_Check(["NetworkPolicy"], subs=[_Check(["NetworkPolicy"], ["Service"])])]
    assert graph_groups(on_hub, {"Deployment"}) == [{"kinds": ["NetworkPolicy", "Pod", "Service"], "hubs": None}]
    assert graph_groups([_Check(["all"])], set()) is None


def _shaped(name: str, pod_selector) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"podSelector": pod_selector, "policyTypes": ["Ingress"]}}


@pytest.mark.parametrize("selector, selects_z", [
    ({}, True),  # every pod
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["q"]}]}, True),  # checkov: every pod
    ({"matchLabels": {"tier": "z"}}, True),
    ({"matchLabels": {"tier": "z", "app": "other"}}, False),
    ({"matchLabels": {"tier": "q"}}, False),
])
def test_a_changed_pod_is_judged_with_exactly_the_policies_that_can_select_it(tmp_path, graph_calls, selector,
                                                                                selects_z):
    """Each policy shape against a Deployment that changes into and out of its reach; every cached gate equals an
    uncached full one (_gate), and the pruned scans name the policies they loaded."""
    build = write_build(tmp_path / "b", [_deployment("a", "x"), _deployment("b", "y"), _policy("np-x", "x"),
                                         _shaped("np-shape", selector)])
    _gate(build, graph_calls)
    _write(build, _deployment("b", "z"))
    result, asked = _gate(build, graph_calls)
    assert ("passed app-b" if selects_z else "failed app-b") in _k8s6(result)
    assert asked == [["demo.deployment.b.yaml"] + (["demo.networkpolicy.np-shape.yaml"] if selects_z else [])]
    _write(build, _deployment("b", "x"))  # now np-x selects it: found although np-x did not change
    result, asked = _gate(build, graph_calls)
    assert "passed app-b" in _k8s6(result)
    assert "demo.networkpolicy.np-x.yaml" in asked[0]


def test_a_changed_pod_without_labels_is_judged_with_every_policy(tmp_path, graph_calls):
    build = write_build(tmp_path / "b", [_deployment("a", "x"), _deployment("b", "y"), _policy("np-x", "x")])
    _gate(build, graph_calls)
    bare = _deployment("b", "y")
    del bare["spec"]["template"]["metadata"]["labels"]  # checkov connects every policy to a pod without labels
    _write(build, bare)
    result, asked = _gate(build, graph_calls)
    assert asked == [["demo.deployment.b.yaml", "demo.networkpolicy.np-x.yaml"]]


def test_random_single_changes_match_a_full_scan(tmp_path, graph_calls):
    """A seeded walk of one-object changes (a pod's labels, a policy's selector or shape, a policy or pod added or
    removed): after each, the cached gate equals an uncached full one (_gate) and re-judged no unchanged pod that
    no changed policy can select."""
    import random

    rng = random.Random(17)
    tiers = ["x", "y", "z", "w"]
    pods = {f"d{i}": rng.choice(tiers) for i in range(5)}
    policies = {f"np{i}": {"matchLabels": {"tier": rng.choice(tiers)}} for i in range(3)}
    build = write_build(tmp_path / "b", [_deployment(n, t) for n, t in pods.items()]
                        + [_shaped(n, s) for n, s in policies.items()])
    _gate(build, graph_calls)
    shapes = [{}, {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]}]
    for step in range(8):
        what = rng.choice(["pod", "policy", "add-policy", "drop-policy", "add-pod", "drop-pod"])
        if what == "pod" or (what == "drop-pod" and len(pods) < 3):
            name = rng.choice(sorted(pods))
            pods[name] = rng.choice([t for t in tiers if t != pods[name]])
            _write(build, _deployment(name, pods[name]))
        elif what in ("policy", "add-policy"):
            name = rng.choice(sorted(policies)) if what == "policy" else f"np{len(policies) + step + 10}"
            policies[name] = rng.choice(shapes + [{"matchLabels": {"tier": t}} for t in tiers])
            _write(build, _shaped(name, policies[name]))
        elif what == "drop-policy" and policies:
            name = rng.choice(sorted(policies))
            del policies[name]
            (build / "manifests" / f"demo.networkpolicy.{name}.yaml").unlink()
        elif what == "add-pod":
            name = f"d{len(pods) + step + 10}"
            pods[name] = rng.choice(tiers)
            _write(build, _deployment(name, pods[name]))
        elif what == "drop-pod":
            name = rng.choice(sorted(pods))
            del pods[name]
            (build / "manifests" / f"demo.deployment.{name}.yaml").unlink()
        result, asked = _gate(build, graph_calls)  # equals a full scan
        covered = {n for n, t in pods.items() if any(not s.get("matchLabels") or s["matchLabels"]["tier"] == t
                                                       for s in policies.values())}
        assert _k8s6(result) == {("passed " if n in covered else "failed ") + f"app-{n}" for n in pods}, (step, what)
        rejudged = {f.split(".")[2] for call in asked for f in call if ".deployment." in f}
        assert len(rejudged) <= 2 or what in ("policy", "add-policy", "drop-policy"), (step, what, rejudged)
