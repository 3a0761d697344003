"""slm_deploy/gate/graph_edges.py: which NetworkPolicies a changed pod's graph re-run can leave out.

The rules are read from checkov's graph builder; its sources are pinned here. That leaving policies out never
changes a verdict is tested against full, uncached gates in tests/gate/test_graph_partition.py.
"""

from __future__ import annotations

import hashlib
import inspect

import pytest
from checkov.kubernetes import kubernetes_utils
from hypothesis import given, settings
from hypothesis import strategies as st
from checkov.kubernetes.graph_builder.graph_components.ResourceKeywordIdentifier import ResourceKeywordIdentifier
from checkov.kubernetes.graph_builder.graph_components.edge_builders.KeywordEdgeBuilder import KeywordEdgeBuilder
from checkov.kubernetes.graph_builder.graph_components.edge_builders.LabelSelectorEdgeBuilder import (
    LabelSelectorEdgeBuilder,
)
from checkov.kubernetes.graph_builder.graph_components.edge_builders.NetworkPolicyEdgeBuilder import (
    NetworkPolicyEdgeBuilder,
)
from checkov.kubernetes.graph_builder.graph_components.edge_builders.ServiceAccountEdgeBuilder import (
    ServiceAccountEdgeBuilder,
)
from checkov.kubernetes.graph_builder.local_graph import KubernetesLocalGraph

from slm_deploy.gate import graph_edges
from slm_deploy.gate.graph_edges import POD_CONTAINERS, PolicyEdges, pod_labels, policy_may_connect

PINNED = {
    "NetworkPolicyEdgeBuilder": (NetworkPolicyEdgeBuilder,
                                 "3b176ce3868300a56b2578cbf904fee330a64e17d9cae8bef511eda98b00b02b"),
    "LabelSelectorEdgeBuilder": (LabelSelectorEdgeBuilder,
                                 "765362b7985f0906a7ee5c69d340d3f5c6e207061875913ef9e21c08505cb788"),
    "KeywordEdgeBuilder.should_search_for_edges": (KeywordEdgeBuilder.should_search_for_edges,
                                                   "5263a194cf84f2dc9ba1998245a36175fc2044e954575f501fa35e6c78d1ade5"),
    "ServiceAccountEdgeBuilder.should_search_for_edges": (
        ServiceAccountEdgeBuilder.should_search_for_edges,
        "9a7fae917a5ba7bebcb63774b2d347fdb4890547fdc2754cb9bdb16149d159a8"),
    "KubernetesLocalGraph.__init__ (the edge builders)": (
        KubernetesLocalGraph.__init__, "44ea32a30f1be87ad8c5a82fa4301729f85bf44249e1fa733caa8f6018e1222b"),
    "KubernetesLocalGraph._extract_nested_resources_recursive": (
        KubernetesLocalGraph._extract_nested_resources_recursive,
        "0e321ee295ec73f007a26514112c9f0f0d404210a914e2b718da5d9189d3434d"),
    "KubernetesLocalGraph._get_k8s_block_metadata": (
        KubernetesLocalGraph._get_k8s_block_metadata, "556fc8f3f81d6a82d6f98afa6cf31478049c91a54792c68035fa2ae8b3e7522f"),
    "KubernetesLocalGraph._create_edges": (
        KubernetesLocalGraph._create_edges, "dd7f3c3f16464e3345f1f0337aad461c6c8eef956652d5c88a7127a848ada635"),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_checkov_graph_builder_is_the_one_read(name):
    """A checkov upgrade changes these: re-read them (slm_deploy/gate/graph_edges.py), then update the hashes."""
    source, digest = PINNED[name]
    assert hashlib.sha256(inspect.getsource(source).encode()).hexdigest() == digest
    assert graph_edges.supported()


def test_constants_are_checkovs():
    assert POD_CONTAINERS == kubernetes_utils.SUPPORTED_POD_CONTAINERS_TYPES
    assert kubernetes_utils.FILTERED_RESOURCES_FOR_EDGE_BUILDERS == ["NetworkPolicy"]
    assert set(ResourceKeywordIdentifier.KINDS_KEYWORDS_MAP) == {"ClusterRoleBinding", "RoleBinding"}


def _deployment(labels, kind="Deployment"):
    return {"kind": kind, "metadata": {"name": "d", "labels": {"owner": "x"}},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {}}}}


def _policy(spec):
    return {"kind": "NetworkPolicy", "metadata": {"name": "np"}, "spec": spec}


def test_pod_labels_follow_checkovs_split():
    assert pod_labels(_deployment({"app": "a"})) == [{"app": "a"}]
    assert pod_labels({"kind": "Pod", "metadata": {"labels": {"app": "p"}}, "spec": {}}) == [{"app": "p"}]
    assert pod_labels({"kind": "Pod", "spec": {}}) == [None]  # no labels: checkov connects every policy
    assert pod_labels({"kind": "ConfigMap", "data": {}}) == []
    assert pod_labels(_deployment({"app": "a"}, kind="CronLike")) == []  # not a pod container: not split
    assert pod_labels({"kind": "Deployment", "spec": [{"template": {}}]}) is None  # a list spec: unsure
    assert pod_labels("not an object") is None


@pytest.mark.parametrize("spec, pods, connects", [
    ({"podSelector": {"matchLabels": {"app": "a"}}}, [{"app": "a", "tier": "t"}], True),
    ({"podSelector": {"matchLabels": {"app": "a"}}}, [{"app": "b"}], False),
    ({"podSelector": {"matchLabels": {"app": "a", "tier": "t"}}}, [{"app": "a"}], False),
    ({"podSelector": {"matchLabels": {"app": "a"}}}, [{"app": "b"}, {"app": "a"}], True),
    ({"podSelector": {"matchLabels": {"app": "a"}}}, [None], True),  # a pod without labels: connected
    ({"podSelector": {"matchLabels": {"app": "a"}}}, [], False),  # no pod at all
    ({"podSelector": {}}, [{"app": "b"}], True),  # selects every pod (checkov: line markers make it truthy)
    ({"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}}, [{"app": "b"}], True),
    ({"podSelector": {"matchLabels": {}}}, [{"app": "b"}], True),
    ({"podSelector": {"matchLabels": {"app": True}}}, [{"app": "b"}], True),  # not plain text: unsure
    ({"podSelector": {"matchLabels": {"app": "a"}}, "selector": {"matchLabels": {"app": "b"}}}, [{"app": "b"}], True),
    ({"policyTypes": ["Ingress"]}, [{"app": "b"}], False),  # no podSelector: never connected
    (None, [{"app": "b"}], False),
])
def test_policy_may_connect(spec, pods, connects):
    assert policy_may_connect(_policy(spec), pods) is connects


def test_unsure_is_always_connected():
    assert policy_may_connect(_policy({"podSelector": {"matchLabels": {"app": "a"}}}), None)
    assert policy_may_connect({"kind": "Service", "spec": {}}, [{"app": "b"}])
    assert policy_may_connect(_policy(["odd"]), [{"app": "b"}])


def test_an_unverified_checkov_keeps_every_policy(monkeypatch):
    from slm_deploy.gate import incremental

    monkeypatch.setattr(graph_edges, "supported", lambda: False)
    assert incremental._policy_filter({}, {}) is None


_text = st.sampled_from(["a", "b", "t"])
_labels = st.one_of(st.dictionaries(st.sampled_from(["app", "tier"]), st.one_of(_text, st.just(True)), max_size=2),
                    st.none())
_plain = st.dictionaries(st.sampled_from(["app", "tier"]), _text, min_size=1, max_size=2)
_specs = st.one_of(
    st.builds(lambda match: {"podSelector": {"matchLabels": match}}, _plain),  # the common shape, most often
    st.builds(lambda match: {"podSelector": {"matchLabels": match}}, _plain),
    st.fixed_dictionaries({"podSelector": st.one_of(st.fixed_dictionaries({}, optional={
        "matchLabels": _labels, "matchExpressions": st.just([{"key": "app", "operator": "Exists"}])}), st.none())},
        optional={"selector": st.fixed_dictionaries({"matchLabels": _labels})}),
    st.none(), st.just(["odd"]))
_objects = st.one_of(
    st.builds(_deployment, _plain),
    st.builds(_deployment, st.dictionaries(st.sampled_from(["app", "tier"]), _text, max_size=2),
              st.sampled_from(["Deployment", "Job", "CronLike"])),
    st.builds(lambda labels: {"kind": "Pod", "metadata": {"labels": labels}, "spec": {}}, _labels),
    st.just({"kind": "Deployment", "spec": [{"template": {}}]}))


@settings(max_examples=300, deadline=None)
@given(policies=st.lists(st.one_of(st.builds(_policy, _specs), st.just({"kind": "Service", "spec": {}})), max_size=8),
       objects=st.lists(_objects, min_size=1, max_size=4))
def test_policy_edges_index_is_the_linear_answer(policies, objects):
    """PolicyEdges.connected is exactly the policies policy_may_connect keeps, whatever the shapes."""
    named = {f"p{i}": p for i, p in enumerate(policies)}
    index = PolicyEdges(named)
    for obj in objects:
        assert index.connected(obj) == sorted(n for n, p in named.items() if policy_may_connect(p, pod_labels(obj)))


def test_policy_edges_read_only_candidates(monkeypatch):
    """Not a timing test: one pod's lookup judges only the policies that can select it (its pair, every-pod)."""
    named = {f"p{i}": _policy({"podSelector": {"matchLabels": {"app": f"a{i}"}}}) for i in range(40)}
    named["all"] = _policy({"podSelector": {}})
    judged = []
    real = graph_edges.policy_may_connect
    monkeypatch.setattr(graph_edges, "policy_may_connect", lambda p, pods: judged.append(p) or real(p, pods))
    assert PolicyEdges(named).connected(_deployment({"app": "a7"})) == ["all", "p7"]
    assert len(judged) == 2
