"""CKV_SLM_008 (manifest set): every serving workload is selected by an ingress NetworkPolicy."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator

from policies.rules._k8s import as_dict, as_list, is_serving_workload, namespace, pod_labels, selector_matches
from policies.rules._types import CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_008",
    name="Ensure every serving workload is selected by a NetworkPolicy that restricts ingress",
    severity="MEDIUM",
    rationale=(
        "Model servers have no (Ollama) or partial (vLLM) authentication, so inside the cluster the "
        "NetworkPolicy is the access control for the ClusterIP Service. A pod no policy selects accepts "
        "traffic from every pod in every namespace."
    ),
    reference="https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    framework="manifest-set",
    kinds=("NetworkPolicy",),
)


def restricts_ingress(policy: dict) -> bool:
    spec = as_dict(policy.get("spec"))
    types = as_list(spec.get("policyTypes"))
    return "Ingress" in types or not types  # without policyTypes, Ingress is always implied


def selects(policy: dict, ns: object, labels: dict, keep: Callable[[dict], bool]) -> bool:
    """Whether ``policy`` is a NetworkPolicy of namespace ``ns`` that ``keep`` keeps and whose podSelector matches
    ``labels`` (judged in that order: a policy ``keep`` refuses is never matched)."""
    return (policy.get("kind") == "NetworkPolicy" and namespace(policy) == ns and keep(policy)
            and selector_matches(as_dict(as_dict(policy.get("spec")).get("podSelector")), labels))


def ingress_policies_selecting(workload: dict, objects: list[dict],
                               index: "PolicyIndex | None" = None) -> list[dict]:
    """The NetworkPolicies of the workload's namespace that restrict ingress and select its pods, in manifest order.

    ``index``: a :class:`PolicyIndex` of ``objects`` built with :func:`restricts_ingress` (same answer, without
    reading every object again for each workload)."""
    if index is not None:
        return index.selecting(workload)
    ns, labels = namespace(workload), pod_labels(workload)
    return [p for p in objects if selects(p, ns, labels, restricts_ingress)]


def _hashable(value: object) -> bool:
    return isinstance(value, Hashable) and not isinstance(value, tuple)  # YAML/JSON give no tuples; be strict


class PolicyIndex:
    """The NetworkPolicies of a manifest set that pass ``keep``, indexed once by namespace and by one
    ``matchLabels`` pair of their podSelector, so that looking up the policies selecting one workload reads only
    the policies that could (a workload against every policy was quadratic in services).

    :meth:`selecting` answers exactly what the linear scan answers (``selects(p, ns, labels, keep)`` over
    ``objects``, in their order): the index only narrows the candidates, every candidate is judged by the same
    predicate. A policy is a candidate for a workload of its namespace when its podSelector has no usable
    ``matchLabels`` pair (empty, not a mapping, a value that is None or not hashable: it may select any pod), or
    when the workload's pod labels hold its indexed pair (matchLabels needs every pair equal). Anything the index
    cannot key (a namespace or label value that is not hashable) falls back to every policy.
    """

    def __init__(self, objects: list[dict], keep: Callable[[dict], bool]):
        self._keep = keep
        self._all: list[tuple[int, dict]] = []
        self._odd: list[tuple[int, dict]] = []  # namespace not hashable: a candidate for every workload
        self._by_ns: dict[object, tuple[list[tuple[int, dict]], dict[tuple, list[tuple[int, dict]]]]] = {}
        for pos, policy in enumerate(objects):
            if not isinstance(policy, dict) or policy.get("kind") != "NetworkPolicy":
                continue
            entry = (pos, policy)
            self._all.append(entry)
            ns = namespace(policy)
            if not _hashable(ns):
                self._odd.append(entry)
                continue
            anywhere, by_pair = self._by_ns.setdefault(ns, ([], {}))
            match = as_dict(as_dict(as_dict(policy.get("spec")).get("podSelector")).get("matchLabels"))
            pair = next(((k, v) for k, v in match.items() if v is not None and _hashable(k) and _hashable(v)), None)
            if pair is None:
                anywhere.append(entry)
            else:
                by_pair.setdefault(pair, []).append(entry)

    def _candidates(self, ns: object, labels: dict) -> list[tuple[int, dict]]:
        if not _hashable(ns):
            return self._all
        anywhere, by_pair = self._by_ns.get(ns, ([], {}))
        found = self._odd + anywhere
        for pair in labels.items():
            if not (_hashable(pair[0]) and _hashable(pair[1])):
                return self._all
            found += by_pair.get(pair, [])
        return found

    def selecting(self, workload: dict) -> list[dict]:
        ns, labels = namespace(workload), pod_labels(workload)
        chosen = {pos: p for pos, p in self._candidates(ns, labels) if selects(p, ns, labels, self._keep)}
        return [chosen[pos] for pos in sorted(chosen)]


def ingress_rules(policies: list[dict]) -> Iterator[tuple[str, int, dict]]:
    """(policy name, index, rule) of every ingress rule of ``policies``."""
    for policy in policies:
        name = as_dict(policy.get("metadata")).get("name")
        for i, rule in enumerate(map(as_dict, as_list(as_dict(policy.get("spec")).get("ingress")))):
            yield name, i, rule


def evaluate_workload(workload: dict, objects: list[dict], index: PolicyIndex | None = None) -> Result:
    if ingress_policies_selecting(workload, objects, index):
        return Result.judge(True, [])
    return Result.judge(True, [f"no ingress NetworkPolicy in namespace {namespace(workload)!r} selects pod labels "
                               f"{pod_labels(workload)}"])


def evaluate(objects: list[dict]) -> list[tuple[dict, Result]]:
    index = PolicyIndex(objects, restricts_ingress)
    return [(w, evaluate_workload(w, objects, index)) for w in objects if is_serving_workload(w)]
