"""The NetworkPolicy index of the manifest-set rules answers exactly what the linear scan it replaced answers.

``PolicyIndex.selecting(w)`` must return the same policies, in the same order, as reading every object for each
workload (``selects(p, ns, labels, keep)``: the code before the index, still what ``index=None`` runs); and
``check_manifest_set`` must give the same findings with the index as with the linear scan put back. Compared on the
reference stacks' rendered manifests, on the policy fixtures, on larger sets generated from prod's manifests and on
hypothesis-generated sets with odd shapes (no namespace, empty or non-mapping selectors, None or list label values,
matchExpressions).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.rules import network_policy_coverage as npc
from policies.rules.manifest_set import check_manifest_set
from policies.rules.network_policy_coverage import PolicyIndex, restricts_ingress, selects
from policies.rules._k8s import namespace, pod_labels, pod_template, strip_meta
from policies.rules.serving_egress import _restricts_egress
from slm_policy_helpers import FIXTURES, load_docs

KEEPS = (restricts_ingress, _restricts_egress, lambda p: True)


def _linear(objects: list[dict], keep, workload: dict) -> list[dict]:
    ns, labels = namespace(workload), pod_labels(workload)
    return [p for p in objects if selects(p, ns, labels, keep)]


def _assert_same_lookups(objects: list[dict]) -> int:
    """Every object with a pod template (and a few without) against every kind of index; returns the lookups made."""
    looked = 0
    for keep in KEEPS:
        index = PolicyIndex(objects, keep)
        for w in objects:
            got, want = index.selecting(w), _linear(objects, keep, w)
            assert [id(p) for p in got] == [id(p) for p in want], (w.get("kind"), pod_labels(w))
            looked += 1
    return looked


def _findings(objects: list[dict]) -> list[tuple] | str:
    try:
        return [(f.check_id, f.resource, f.status, tuple(f.reasons)) for f in check_manifest_set(objects)]
    except TypeError as exc:  # a rule that cannot take a non-hashable namespace (CKV_SLM_009): the same either way
        return f"raises {exc}"


def _assert_same_findings(objects: list[dict], monkeypatch) -> None:
    indexed = _findings(objects)
    with monkeypatch.context() as mp:  # the linear scan the index replaced, for every rule that uses the index
        mp.setattr(PolicyIndex, "selecting", lambda self, w: _linear(self._source, self._keep, w))
        mp.setattr(PolicyIndex, "__init__", _remember_source)
        linear = _findings(objects)
    assert indexed == linear


_original_init = PolicyIndex.__init__


def _remember_source(self, objects, keep):
    _original_init(self, objects, keep)
    self._source = objects


def _manifests(build_dir: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((build_dir / "manifests").glob("*.yaml"))]


@pytest.mark.parametrize("stack", ["prod", "staging", "cpu"])
def test_reference_stacks_same_as_linear(stack, built, monkeypatch):
    objects = [strip_meta(o) for o in _manifests(built(stack).out_dir) if isinstance(o, dict)]
    assert any(o.get("kind") == "NetworkPolicy" for o in objects)
    assert _assert_same_lookups(objects) >= len(objects)
    _assert_same_findings(objects, monkeypatch)


def test_policy_fixtures_same_as_linear(monkeypatch):
    files = sorted(FIXTURES.glob("CKV_SLM_0*/*/*.yaml"))
    assert files
    for path in files:
        objects = [o for o in load_docs(path) if isinstance(o, dict)]
        _assert_same_lookups(objects)
        _assert_same_findings(objects, monkeypatch)


def _scaled(objects: list[dict], copies: int) -> list[dict]:
    """A bigger set in the shape of a scale stack: every labelled object of prod copied ``copies`` times with its
    name and its label values suffixed, so each copy's policies select only its own pods (plus the originals)."""
    out = list(objects)
    for n in range(copies):
        for obj in objects:
            twin = copy.deepcopy(obj)
            meta = twin.setdefault("metadata", {})
            meta["name"] = f"{meta.get('name')}-c{n}"
            tpl = pod_template(twin)
            for labels in ([tpl[0].get("labels")] if tpl else []) + [
                    (twin.get("spec") or {}).get("podSelector", {}).get("matchLabels") if twin.get("kind") == "NetworkPolicy" else None]:
                if isinstance(labels, dict) and "app.kubernetes.io/instance" in labels:
                    labels["app.kubernetes.io/instance"] = f"{labels['app.kubernetes.io/instance']}-c{n}"
            out.append(twin)
    return out


def test_generated_larger_stack_same_as_linear(built, monkeypatch):
    objects = [strip_meta(o) for o in _manifests(built("prod").out_dir) if isinstance(o, dict)]
    big = _scaled(objects, 6)
    assert sum(o.get("kind") == "NetworkPolicy" for o in big) >= 7 * sum(o.get("kind") == "NetworkPolicy" for o in objects)
    _assert_same_lookups(big)
    _assert_same_findings(big, monkeypatch)


# Odd shapes: what a hand-written or third-party manifest set may hold.
_label_keys = st.sampled_from(["app", "tier", "app.kubernetes.io/name", "app.kubernetes.io/component"])
_label_values = st.one_of(st.sampled_from(["a", "b", "vllm", "prometheus"]), st.none(), st.integers(0, 2),
                          st.lists(st.just("a"), max_size=1))
_labels = st.one_of(st.dictionaries(_label_keys, _label_values, max_size=3), st.none(), st.just("x"))
_namespaces = st.one_of(st.sampled_from(["ns1", "ns2", ""]), st.none(), st.just(["odd"]))
_expressions = st.lists(st.fixed_dictionaries({"key": _label_keys, "operator": st.sampled_from(
    ["In", "NotIn", "Exists", "DoesNotExist"]), "values": st.lists(st.sampled_from(["a", "b"]), max_size=2)}),
    max_size=2)
_selector = st.one_of(st.fixed_dictionaries({}, optional={"matchLabels": _labels, "matchExpressions": _expressions}),
                      st.none(), st.just([]))


@st.composite
def _policy(draw):
    spec = {"podSelector": draw(_selector),
            "policyTypes": draw(st.sampled_from([[], ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))}
    if draw(st.booleans()):
        spec["ingress"] = [{"from": [{"podSelector": {}}]}]
    return {"kind": "NetworkPolicy", "metadata": {"name": draw(st.sampled_from(["p1", "p2", "p3"])),
                                                  "namespace": draw(_namespaces)}, "spec": spec}


@st.composite
def _workload(draw):
    kind = draw(st.sampled_from(["Deployment", "StatefulSet", "Pod", "Job", "Service"]))
    labels = draw(_labels)
    image = draw(st.sampled_from(["vllm/vllm-openai:v0.11.0", "ollama/ollama:0.12", "nginx:1"]))
    pod = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": image}]}}
    meta = {"name": draw(st.sampled_from(["w1", "w2"])), "namespace": draw(_namespaces)}
    if kind == "Pod":
        return {"kind": kind, "metadata": {**meta, "labels": labels}, "spec": pod["spec"]}
    if kind == "Service":
        return {"kind": kind, "metadata": meta, "spec": {"selector": labels if isinstance(labels, dict) else {}}}
    return {"kind": kind, "metadata": meta, "spec": {"template": pod}}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objects=st.lists(st.one_of(_policy(), _workload()), max_size=12))
def test_generated_odd_sets_same_as_linear(objects, monkeypatch):
    _assert_same_lookups(objects)
    _assert_same_findings(objects, monkeypatch)


def test_index_reads_only_candidate_policies(monkeypatch):
    """Not a timing test: the lookup for one workload judges only the policies that can select it (the one it
    names and the one selecting every pod), not every policy of the set."""
    policies = [{"kind": "NetworkPolicy", "metadata": {"name": f"p{i}", "namespace": "ns"},
                 "spec": {"podSelector": {"matchLabels": {"app": f"a{i}"}}}} for i in range(50)]
    policies.append({"kind": "NetworkPolicy", "metadata": {"name": "all", "namespace": "ns"}, "spec": {"podSelector": {}}})
    workload = {"kind": "Deployment", "metadata": {"name": "w", "namespace": "ns"},
                "spec": {"template": {"metadata": {"labels": {"app": "a7"}}, "spec": {}}}}
    judged = []
    real = npc.selects
    monkeypatch.setattr(npc, "selects", lambda p, ns, labels, keep: judged.append(p["metadata"]["name"]) or real(p, ns, labels, keep))
    found = PolicyIndex(policies + [workload], restricts_ingress).selecting(workload)
    assert [p["metadata"]["name"] for p in found] == ["p7", "all"]
    assert sorted(judged) == ["all", "p7"]


@pytest.mark.parametrize("match_labels, pod", [
    ({"app": None}, {"tier": "a"}),  # None equals a missing label: selects a pod without "app"
    ({"app": ["a"]}, {"app": ["a"]}),  # a value no hash can key
    ("not-a-mapping", {"app": "a"}),  # selects every pod
    ({"app": "a", "tier": None}, {"app": "a"}),
])
def test_edge_selectors_same_as_linear(match_labels, pod, monkeypatch):
    policy = {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "ns"},
              "spec": {"podSelector": {"matchLabels": match_labels}}}
    workload = {"kind": "Deployment", "metadata": {"name": "w", "namespace": "ns"},
                "spec": {"template": {"metadata": {"labels": pod}, "spec": {}}}}
    assert PolicyIndex([policy, workload], restricts_ingress).selecting(workload) == [policy]
    _assert_same_lookups([policy, workload])
    _assert_same_findings([policy, workload], monkeypatch)


def _strip_meta_before(value):
    """policies.rules._k8s.strip_meta as it was (one recursive call per value)."""
    if isinstance(value, dict):
        return {k: _strip_meta_before(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [_strip_meta_before(v) for v in value]
    return value


class _Dict(dict):
    pass


_keys = st.one_of(st.sampled_from(["a", "__startline__", "__x", "_y", "b__"]), st.integers(0, 2))
_values = st.recursive(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.booleans()),
                       lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3),
                                               st.dictionaries(_keys, inner, max_size=2).map(_Dict)), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(value=_values)
def test_strip_meta_is_the_recursive_copy_it_replaced(value):
    got, want = strip_meta(value), _strip_meta_before(value)
    assert got == want and type(got) is type(want)
    if isinstance(value, (dict, list)):
        assert got is not value  # always a copy: rules may hold on to it


def test_strip_meta_on_a_reference_stack(built):
    objects = _manifests(built("prod").out_dir)
    marked = copy.deepcopy(objects)
    for obj in marked:
        obj["__startline__"], obj["metadata"]["__endline__"] = 1, 2
    assert [strip_meta(o) for o in marked] == [_strip_meta_before(o) for o in marked] == objects
