"""Apply-validity's selector rule (SLM_APPLY_SELECTORS) looks up pod templates through an index; the results are
those of reading every pod template of the namespace for each selector (the code before the index).

Compared on the reference stacks' manifests, on a larger set made of prod's copied with their own labels, and on
generated sets with odd shapes (None, list and integer label values, labels that are not a mapping, selectors with
matchExpressions, empty selectors, Service selectors).
"""
from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_deploy.gate import apply_validity
from slm_deploy.gate.apply_validity import check_kubernetes


def _outcome(objects):
    try:
        return [(r.check_id, r.resource, r.problems) for r in check_kubernetes(objects)]
    except (TypeError, AttributeError) as exc:  # malformed input: the same failure either way
        return f"raises {type(exc).__name__}"


def _assert_same(objects, monkeypatch):
    indexed = _outcome(objects)
    with monkeypatch.context() as mp:  # every pod template of the namespace, as before the index
        mp.setattr(apply_validity._PodIndex, "candidates", lambda self, ns, match: self.pods.get(ns, []))
        linear = _outcome(objects)
    assert indexed == linear


def _manifests(build_dir):
    return [(p.name, yaml.safe_load(p.read_text())) for p in sorted((build_dir / "manifests").glob("*.yaml"))]


@pytest.mark.parametrize("stack", ["prod", "staging", "cpu"])
def test_reference_stacks_same_as_every_template(stack, built, monkeypatch):
    objects = _manifests(built(stack).out_dir)
    assert any(r.check_id == "SLM_APPLY_SELECTORS" for r in check_kubernetes(objects))
    _assert_same(objects, monkeypatch)


def test_larger_generated_stack_same_as_every_template(built, monkeypatch):
    objects = _manifests(built("prod").out_dir)
    big = list(objects)
    for n in range(5):
        for rel, obj in objects:
            twin = copy.deepcopy(obj)
            twin["metadata"]["name"] = f"{twin['metadata'].get('name')}-c{n}"
            text = yaml.safe_dump(twin).replace("app.kubernetes.io/instance: ", f"app.kubernetes.io/instance: c{n}-")
            big.append((f"c{n}-{rel}", yaml.safe_load(text)))
    results = check_kubernetes(big)
    assert sum(r.check_id == "SLM_APPLY_SELECTORS" for r in results) > 5 * sum(
        r.check_id == "SLM_APPLY_SELECTORS" for r in check_kubernetes(objects))
    _assert_same(big, monkeypatch)


_value = st.one_of(st.sampled_from(["a", "b"]), st.none(), st.integers(0, 1), st.lists(st.just("a"), max_size=1))
_labels = st.one_of(st.dictionaries(st.sampled_from(["app", "tier"]), _value, max_size=2), st.just(["x"]), st.none())
_expr = st.fixed_dictionaries({"key": st.sampled_from(["app", "tier"]),
                               "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
                               "values": st.lists(st.sampled_from(["a", "b"]), max_size=2)})
_selector = st.one_of(st.fixed_dictionaries({}, optional={"matchLabels": _labels, "matchExpressions": st.lists(_expr, max_size=2)}),
                      st.none())
_ns = st.sampled_from(["n1", "n2", None])


@st.composite
def _object(draw):
    kind = draw(st.sampled_from(["Deployment", "Pod", "Job", "Service", "NetworkPolicy", "PodDisruptionBudget"]))
    meta = {"name": draw(st.sampled_from(["x", "y"])), "namespace": draw(_ns)}
    labels = draw(_labels)
    if kind == "Deployment":
        return {"kind": kind, "metadata": meta, "spec": {"selector": draw(_selector), "template": {
            "metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    if kind in ("Pod", "Job"):
        tpl = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        return {"kind": kind, "metadata": {**meta, "labels": labels}, "spec": tpl["spec"]} if kind == "Pod" else \
            {"kind": kind, "metadata": meta, "spec": {"template": tpl}}
    if kind == "Service":
        return {"kind": kind, "metadata": meta, "spec": {"selector": draw(st.one_of(_labels, st.just({})))}}
    key = "podSelector" if kind == "NetworkPolicy" else "selector"
    return {"kind": kind, "metadata": meta, "spec": {key: draw(_selector)}}


@settings(max_examples=200, deadline=None)
@given(objects=st.lists(_object(), max_size=10))
def test_generated_sets_same_as_every_template(objects):
    with pytest.MonkeyPatch.context() as mp:
        _assert_same([(f"f{i}", o) for i, o in enumerate(objects)], mp)


@pytest.mark.parametrize("match, pod", [
    ({"app": None}, {"tier": "a"}),  # None equals a missing label
    ({"app": None, "tier": "a"}, {"tier": "a"}),
    ({"app": ["a"]}, {"app": ["a"]}),  # a value no hash can key
    ({"app": "a"}, ["not", "a", "mapping"]),
])
def test_edge_selectors_same_as_every_template(match, pod, monkeypatch):
    deployment = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}, "spec": {
        "selector": {"matchLabels": match}, "template": {"metadata": {"labels": pod}, "spec": {}}}}
    policy = {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "n"},
              "spec": {"podSelector": {"matchLabels": match}}}
    _assert_same([("d", deployment), ("p", policy)], monkeypatch)
