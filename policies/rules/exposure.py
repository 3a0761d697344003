"""CKV_SLM_002: model-server Services/Ingresses are exposed only through the auth proxy port."""
from __future__ import annotations

from policies.rules._identify import AUTH_PORT_NAME, has_model_server_label
from policies.rules._k8s import as_dict, as_list
from policies.rules._types import NA, CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_002",
    name="Ensure model-server Services and Ingresses are exposed only through the authenticating proxy",
    severity="CRITICAL",
    rationale=(
        "vLLM's --api-key guards only the /v1 routes and Ollama has no authentication at all; a LoadBalancer, "
        "NodePort, externalIPs Service or an Ingress that reaches the engine port directly gives anyone on the "
        "network free use of the GPU, the models and every admin route. Expose only the auth-proxy port "
        "(named http-auth); ClusterIP Services stay internal and are restricted by NetworkPolicies."
    ),
    reference="https://docs.vllm.ai/en/latest/usage/security.html",
    framework="kubernetes",
    kinds=("Service", "Ingress"),
)

EXPOSED_TYPES = ("LoadBalancer", "NodePort")


def is_exposed_service(obj: dict) -> bool:
    spec = as_dict(obj.get("spec"))
    return spec.get("type") in EXPOSED_TYPES or bool(as_list(spec.get("externalIPs")))


def ingress_backends(obj: dict) -> list[dict]:
    """All `backend.service` dicts of an Ingress (rules and defaultBackend)."""
    spec = as_dict(obj.get("spec"))
    backends = [as_dict(spec.get("defaultBackend"))]
    for rule in as_list(spec.get("rules")):
        for path in as_list(as_dict(as_dict(rule).get("http")).get("paths")):
            backends.append(as_dict(as_dict(path).get("backend")))
    return [as_dict(b.get("service")) for b in backends if b.get("service")]


def _fronts_model_server(obj: dict) -> bool:
    return has_model_server_label(as_dict(obj.get("metadata")).get("labels")) or has_model_server_label(
        as_dict(obj.get("spec")).get("selector"))


def evaluate(obj: dict) -> Result:
    if not _fronts_model_server(obj):
        return NA
    problems: list[str] = []
    if obj.get("kind") == "Service":
        if not is_exposed_service(obj):
            return Result.judge(True, [])
        for port in as_list(as_dict(obj.get("spec")).get("ports")):
            target = as_dict(port).get("targetPort", as_dict(port).get("port"))
            if target != AUTH_PORT_NAME:
                problems.append(f"exposed port {as_dict(port).get('port')} targets {target!r}, not {AUTH_PORT_NAME!r}")
    elif obj.get("kind") == "Ingress":
        for backend in ingress_backends(obj):
            port = as_dict(backend.get("port"))
            if port.get("name") != AUTH_PORT_NAME:
                problems.append(f"backend {backend.get('name')!r} uses port {port}, not the {AUTH_PORT_NAME!r} port")
    else:
        return NA
    return Result.judge(True, problems)
