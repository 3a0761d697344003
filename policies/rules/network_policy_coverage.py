"""CKV_SLM_008 (manifest set): every serving workload is selected by an ingress NetworkPolicy."""
from __future__ import annotations

from collections.abc import Iterator

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


def ingress_policies_selecting(workload: dict, objects: list[dict]) -> list[dict]:
    """The NetworkPolicies of the workload's namespace that restrict ingress and select its pods."""
    ns, labels = namespace(workload), pod_labels(workload)
    return [p for p in objects if p.get("kind") == "NetworkPolicy" and namespace(p) == ns and restricts_ingress(p)
            and selector_matches(as_dict(as_dict(p.get("spec")).get("podSelector")), labels)]


def ingress_rules(policies: list[dict]) -> Iterator[tuple[str, int, dict]]:
    """(policy name, index, rule) of every ingress rule of ``policies``."""
    for policy in policies:
        name = as_dict(policy.get("metadata")).get("name")
        for i, rule in enumerate(map(as_dict, as_list(as_dict(policy.get("spec")).get("ingress")))):
            yield name, i, rule


def evaluate_workload(workload: dict, objects: list[dict]) -> Result:
    if ingress_policies_selecting(workload, objects):
        return Result.judge(True, [])
    return Result.judge(True, [f"no ingress NetworkPolicy in namespace {namespace(workload)!r} selects pod labels "
                               f"{pod_labels(workload)}"])


def evaluate(objects: list[dict]) -> list[tuple[dict, Result]]:
    return [(w, evaluate_workload(w, objects)) for w in objects if is_serving_workload(w)]
