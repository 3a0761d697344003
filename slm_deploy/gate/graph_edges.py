"""Which NetworkPolicies can be connected to a changed pod in checkov's graph, decided conservatively.

When only spokes (Deployments, Jobs ...) of a spoke-local graph group changed, :mod:`slm_deploy.gate.graph_partition`
re-judges them with every hub of the group (every NetworkPolicy: 301 files for one changed Deployment of a
100-service stack). A graph check's verdict on a pod depends on the pod and on the vertices connected to it by an
edge (checkov's connection solvers are single-hop), so the hubs that cannot be connected to any changed pod can be
left out without changing a result. This module answers "can this NetworkPolicy be connected to one of these pods",
answering *yes* whenever it is not certain.

What checkov 3.3.30 connects a Pod vertex and a NetworkPolicy vertex with (``checkov/kubernetes/graph_builder/``):

- ``NetworkPolicyEdgeBuilder.find_connections``: the policy connects to a Pod when its ``spec.podSelector`` is
  truthy and either its ``matchLabels`` (line markers removed) is empty, or the Pod has no labels, or every
  ``matchLabels`` entry is among the Pod's labels. checkov's YAML loader adds line markers to every mapping, so an
  empty ``podSelector: {}`` is truthy there (it selects every pod), unlike in a plain parse: any ``podSelector`` that
  is present counts.
- ``LabelSelectorEdgeBuilder``: never searches from a NetworkPolicy (``FILTERED_RESOURCES_FOR_EDGE_BUILDERS``);
  from a Pod it connects to a vertex whose ``spec.selector`` match labels are among the Pod's labels, so a policy
  with a ``spec.selector`` is always kept.
- ``KeywordEdgeBuilder`` (RoleBinding/ClusterRoleBinding only) and ``ServiceAccountEdgeBuilder`` (ServiceAccount
  only) never touch a Pod-NetworkPolicy pair.

Pod vertices of an object (``local_graph._extract_nested_resources_recursive``, ``kubernetes_utils``): the object
itself when its kind is ``Pod``, and the ``spec.template`` of a kind in ``SUPPORTED_POD_CONTAINERS_TYPES`` (kind
``Pod`` unless it says otherwise), recursively. Pinned: used only with :data:`VERIFIED_CHECKOV`;
tests/gate/test_graph_edges.py pins the sources above and compares pruned gates with full ones.
"""

from __future__ import annotations

from typing import Any

__all__ = ["VERIFIED_CHECKOV", "supported", "pod_labels", "policy_may_connect", "POD_CONTAINERS", "PolicyEdges"]

VERIFIED_CHECKOV = "3.3.30"

POD_CONTAINERS = frozenset({"Deployment", "DeploymentConfig", "DaemonSet", "Job", "ReplicaSet",
                            "ReplicationController", "StatefulSet"})
"""checkov 3.3.30 ``kubernetes_utils.SUPPORTED_POD_CONTAINERS_TYPES``."""


def supported() -> bool:
    """True with the checkov version the rules above were read from (checked without importing checkov)."""
    from slm_deploy.gate.cache import _version

    return _version("checkov") == VERIFIED_CHECKOV


def _pods(conf: Any, out: list[Any]) -> bool:
    """Append the labels of every Pod vertex checkov makes from ``conf``; False when the shape is not understood."""
    if not isinstance(conf, dict):
        return False
    if conf.get("kind") == "Pod":
        metadata = conf.get("metadata")
        out.append(metadata.get("labels") if isinstance(metadata, dict) else None)
    spec = conf.get("spec")
    if not isinstance(spec, dict):
        return spec is None or not isinstance(spec, list)  # a list spec: not understood here
    template = spec.get("template")
    if template is None:
        return True
    if not isinstance(template, dict):
        return False
    if conf.get("kind") not in POD_CONTAINERS:
        return True  # checkov does not split it: no nested Pod vertex
    template = dict(template)
    template.setdefault("kind", "Pod")
    return _pods(template, out)


def pod_labels(obj: Any) -> list[Any] | None:
    """The labels of each Pod vertex of one rendered object (None for a Pod without labels), or None when unsure."""
    found: list[Any] = []
    return found if _pods(obj, found) else None


def _plain_labels(labels: Any) -> bool:
    return isinstance(labels, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())


def policy_may_connect(policy: Any, pods: list[Any] | None) -> bool:
    """Whether checkov could connect ``policy`` (a NetworkPolicy object) to a Pod labelled as in ``pods``
    (:func:`pod_labels`). False only when no edge is possible; None ``pods`` (unsure) is always True."""
    if pods is None or not isinstance(policy, dict) or policy.get("kind") != "NetworkPolicy":
        return True
    spec = policy.get("spec")
    if spec is None:
        return False  # NetworkPolicyEdgeBuilder skips it; no spec.selector either
    if not isinstance(spec, dict) or "selector" in spec:
        return True
    if "podSelector" not in spec or spec["podSelector"] is None:
        return False  # podSelector missing: NetworkPolicyEdgeBuilder skips the policy
    selector = spec["podSelector"]
    match = selector.get("matchLabels") if isinstance(selector, dict) else None
    if not match or not _plain_labels(match):
        return True  # empty or unusual: connects to every pod (or might)
    for labels in pods:
        if not _plain_labels(labels) or all(labels.get(k) == v for k, v in match.items()):
            return True
    return False


class PolicyEdges:
    """:func:`policy_may_connect` for many pods against one set of policies, without reading every policy per pod.

    ``policies``: name -> object (a file's rel path -> its parsed object). :meth:`connected` returns, in sorted
    order, exactly the names whose policy :func:`policy_may_connect` says may connect to the given object's Pod
    vertices: the index only narrows the candidates (a policy whose ``podSelector.matchLabels`` is plain, non-empty
    text is a candidate only for pods holding its first pair, since it connects only to pods holding all its
    pairs; any other shape is a candidate for every pod), and each candidate is judged by the same function.
    A pod without labels or with labels that are not plain text (unsure) makes every policy a candidate.
    """

    def __init__(self, policies: dict[str, Any]):
        self._policies = policies
        self._always: list[str] = []
        self._by_pair: dict[tuple[str, str], list[str]] = {}
        for name, policy in policies.items():
            pair = _index_pair(policy)
            if pair is None:
                self._always.append(name)
            else:
                self._by_pair.setdefault(pair, []).append(name)

    def connected(self, obj: Any) -> list[str]:
        pods = pod_labels(obj)
        if pods is None or not all(_plain_labels(labels) for labels in pods):
            candidates = set(self._policies)
        else:
            candidates = set(self._always)
            for labels in pods:
                for pair in labels.items():
                    candidates.update(self._by_pair.get(pair, ()))
        return sorted(name for name in candidates if policy_may_connect(self._policies[name], pods))


def _index_pair(policy: Any) -> tuple[str, str] | None:
    """The ``matchLabels`` pair a policy is indexed under: only where :func:`policy_may_connect` connects it
    to nothing but pods holding every such pair; None means "may connect to any pod" (judged for every pod)."""
    if not isinstance(policy, dict) or policy.get("kind") != "NetworkPolicy":
        return None
    spec = policy.get("spec")
    if not isinstance(spec, dict) or "selector" in spec:
        return None
    selector = spec.get("podSelector")
    match = selector.get("matchLabels") if isinstance(selector, dict) else None
    if not match or not _plain_labels(match):
        return None
    return next(iter(match.items()))
