"""CKV_SLM_030 (manifest set): serving workloads, and the model gateway in front of them, have no internet egress.

A model server that can reach the internet can leak prompts and completions; so can the gateway, which sees every
prompt of every client on its way through. Downloads belong in a run-to-completion Job with its own NetworkPolicy
(the cache-fill Jobs, the gateway's router install Job); the serving and gateway pods get egress to DNS and
in-cluster peers at most. The gateway is recognised by what it runs (vLLM's router, as CKV_SLM_031 finds it) or,
without a router (the proxy in front of a Gateway API Inference Extension Gateway), by its pod label
``app.kubernetes.io/component: gateway``. NetworkPolicies are additive, so every egress rule of every policy that selects
the pod is judged: a rule without ``to`` (any destination) or with an ``ipBlock`` that is not wholly inside
private, link-local, CGNAT or loopback space lets the pod out.
"""
from __future__ import annotations

from policies.rules._cidr import is_internal
from policies.rules._k8s import (
    RUN_TO_COMPLETION_KINDS, as_dict, as_list, containers, is_serving_workload, namespace, pod_labels, pod_template,
    selector_matches,
)
from policies.rules._types import CheckMeta, Result
from policies.rules.gateway_ingress import runs_router
from policies.rules.network_policy_coverage import PolicyIndex

META = CheckMeta(
    id="CKV_SLM_030",
    name="Ensure serving workloads and the model gateway have no internet egress (downloads run in Jobs)",
    severity="HIGH",
    rationale=(
        "A model server, or the gateway in front of it, that can open connections to the internet can leak prompts "
        "and completions, or be steered to fetch code. Only run-to-completion Jobs download (model caches, the "
        "router install); serving and gateway pods reach DNS and in-cluster peers at most. A pod no egress policy "
        "selects can reach everything."
    ),
    reference="https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-egress-traffic",
    framework="manifest-set",
    kinds=("NetworkPolicy",),
)

def _selects(policy: dict, labels: dict) -> bool:
    return selector_matches(as_dict(as_dict(policy.get("spec")).get("podSelector")), labels)


def _restricts_egress(policy: dict) -> bool:
    return "Egress" in as_list(as_dict(policy.get("spec")).get("policyTypes"))


def rule_problems(policy_name: str, rule: dict) -> list[str]:
    peers = as_list(rule.get("to"))
    if not peers:
        return [f"NetworkPolicy {policy_name!r} allows egress to any address"]
    problems = []
    for peer in peers:
        block = as_dict(as_dict(peer).get("ipBlock"))
        if block and not is_internal(block.get("cidr")):
            problems.append(f"NetworkPolicy {policy_name!r} allows egress to {block.get('cidr')} (public addresses)")
    return problems


def evaluate_workload(workload: dict, objects: list[dict], index: PolicyIndex | None = None) -> Result:
    """``index``: a :class:`PolicyIndex` of ``objects`` built with ``_restricts_egress`` (the same policies, found
    without reading every object for each workload)."""
    labels, ns = pod_labels(workload), namespace(workload)
    policies = index.selecting(workload) if index is not None else [
        o for o in objects if o.get("kind") == "NetworkPolicy" and namespace(o) == ns
        and _restricts_egress(o) and _selects(o, labels)]
    if not policies:
        return Result.judge(True, [f"no NetworkPolicy in namespace {ns!r} restricts egress of pod labels {labels}"])
    problems = []
    for policy in policies:
        name = as_dict(policy.get("metadata")).get("name")
        for rule in as_list(as_dict(policy.get("spec")).get("egress")):
            problems += rule_problems(str(name), as_dict(rule))
    return Result.judge(True, problems)


GATEWAY_COMPONENT = "gateway"
"""``app.kubernetes.io/component`` of the model gateway's pods (components/gateway)."""


def is_gateway_workload(obj: dict) -> bool:
    """A long-running workload with a container running vLLM's router, or whose pods are labelled as the model
    gateway (``app.kubernetes.io/component: gateway``: with GAIE it runs no router)."""
    tpl = pod_template(obj)
    if not tpl or obj.get("kind") in (*RUN_TO_COMPLETION_KINDS, "PodTemplate"):
        return False
    return (any(runs_router(c) for c in containers(tpl[1], init=False))
            or as_dict(as_dict(tpl[0]).get("labels")).get("app.kubernetes.io/component") == GATEWAY_COMPONENT)


def evaluate(objects: list[dict]) -> list[tuple[dict, Result]]:
    index = PolicyIndex(objects, _restricts_egress)
    return [(w, evaluate_workload(w, objects, index)) for w in objects if is_serving_workload(w) or is_gateway_workload(w)]
