"""CKV_SLM_009 (manifest set): Services/Ingresses that reach model-server pods target the auth proxy."""
from __future__ import annotations

from policies.rules._identify import AUTH_PORT_NAME, AUTH_PROXY_CONTAINER
from policies.rules._k8s import (
    as_dict, as_list, containers, is_model_server_container, is_serving_workload, namespace, pod_labels, pod_template,
)
from policies.rules._types import CheckMeta, Result
from policies.rules.exposure import ingress_backends, is_exposed_service

META = CheckMeta(
    id="CKV_SLM_009",
    name="Ensure Services and Ingresses that reach model-server pods expose only the auth-proxy port",
    severity="CRITICAL",
    rationale=(
        "Resolves Ingress -> Service -> selected pods across the whole rendered set, so an unlabelled or "
        "third-party Service is judged too: every exposed port must land on the containerPort named "
        "http-auth of the auth-proxy container, never on the engine port."
    ),
    reference="https://docs.vllm.ai/en/latest/usage/security.html",
    framework="manifest-set",
    kinds=("Service", "Ingress"),
)


def _selected_model_pods(service: dict, objects: list[dict]) -> list[dict]:
    selector = as_dict(as_dict(service.get("spec")).get("selector"))
    if not selector:
        return []  # a Service without selector selects no pods
    return [
        w for w in objects
        if pod_template(w) and w.get("kind") != "PodTemplate" and namespace(w) == namespace(service)
        and all(pod_labels(w).get(k) == v for k, v in selector.items())
        and (is_serving_workload(w) or any(is_model_server_container(c, pod_labels(w)) for c in containers(
            pod_template(w)[1], init=False)))
    ]


def _lands_on_auth_proxy(target: object, workload: dict) -> bool:
    for c in containers(pod_template(workload)[1], init=False):
        for port in as_list(c.get("ports")):
            port = as_dict(port)
            if target in (port.get("name"), port.get("containerPort")):
                return c.get("name") == AUTH_PROXY_CONTAINER and port.get("name") == AUTH_PORT_NAME
    return False


def _port_problems(service: dict, ports: list[dict], pods: list[dict]) -> list[str]:
    problems = []
    for port in ports:
        target = port.get("targetPort", port.get("port"))
        for w in pods:
            if not _lands_on_auth_proxy(target, w):
                problems.append(f"Service port {port.get('port')} reaches {w.get('kind')}/"
                                f"{as_dict(w.get('metadata')).get('name')} on {target!r}, not auth-proxy/{AUTH_PORT_NAME}")
    return problems


def evaluate(objects: list[dict]) -> list[tuple[dict, Result]]:
    results = []
    services = {(namespace(o), as_dict(o.get("metadata")).get("name")): o for o in objects if o.get("kind") == "Service"}
    for obj in objects:
        if obj.get("kind") == "Service" and is_exposed_service(obj):
            pods = _selected_model_pods(obj, objects)
            if pods:
                ports = [as_dict(p) for p in as_list(as_dict(obj.get("spec")).get("ports"))]
                results.append((obj, Result.judge(True, _port_problems(obj, ports, pods))))
        elif obj.get("kind") == "Ingress":
            applicable, problems = False, []
            for backend in ingress_backends(obj):
                service = services.get((namespace(obj), backend.get("name")))
                pods = _selected_model_pods(service, objects) if service else []
                if not pods:
                    continue
                applicable = True
                want = as_dict(backend.get("port"))
                ports = [as_dict(p) for p in as_list(as_dict(service.get("spec")).get("ports"))
                         if as_dict(p).get("name") == want.get("name") or as_dict(p).get("port") == want.get("number")]
                problems += _port_problems(service, ports, pods) or ([] if ports else [f"backend port {want} not found"])
            if applicable:
                results.append((obj, Result.judge(True, problems)))
    return results
