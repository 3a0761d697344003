"""CKV_SLM_008 (manifest set): every serving workload is selected by an ingress NetworkPolicy."""
from __future__ import annotations

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


def _policy_selects(policy: dict, labels: dict) -> bool:
    return selector_matches(as_dict(as_dict(policy.get("spec")).get("podSelector")), labels)


def evaluate_workload(workload: dict, objects: list[dict]) -> Result:
    labels = pod_labels(workload)
    ns = namespace(workload)
    for obj in objects:
        if obj.get("kind") == "NetworkPolicy" and namespace(obj) == ns and restricts_ingress(obj) and _policy_selects(
                obj, labels):
            return Result.judge(True, [])
    return Result.judge(True, [f"no ingress NetworkPolicy in namespace {ns!r} selects pod labels {labels}"])


def evaluate(objects: list[dict]) -> list[tuple[dict, Result]]:
    return [(w, evaluate_workload(w, objects)) for w in objects if is_serving_workload(w)]
