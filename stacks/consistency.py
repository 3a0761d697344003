"""Rules across a stack's components, each problem located at the entry that breaks it.

Each function returns ``(location, message)`` pairs relative to StackConfig (e.g. ``("vllm", 1, "name")``);
StackConfig (passed in as ``cfg``; not imported here, which would be a cycle) raises them together as :class:`components.validation.Located`, so the loader prints one
located line per offending entry (not one line at ``config:``), and every independent problem at once.
"""

from __future__ import annotations

from typing import Any

from stacks.instances import GATEWAY_NAME, MONITORING_NAME, OLLAMA_NAME, SINGLE_INSTANCES

__all__ = ["component_problems", "inference_gateway_problems", "lifecycle_problems", "name_problems", "served_name_problems", "host_port_problems",
           "ollama_problems"]

Problems = list[tuple[tuple[Any, ...], str]]


def component_problems(cfg: Any) -> Problems:
    """Each component on a target it supports, with the cluster features it needs."""
    out: Problems = []
    if cfg.vllm and cfg.target != "kubernetes":
        out.append((("vllm",), f"vllm services need target kubernetes (GPU pods); target is {cfg.target}: use ollama "
                               "for a Docker host"))
    for i, v in enumerate(cfg.vllm):
        if v.scale_to_zero and not cfg.cluster.keda:
            out.append((("vllm", i, "scaleToZero"), f"vllm[{i}] ({v.name}): scaleToZero needs cluster.keda true; "
                        "an HPA cannot scale to 0 replicas"))
    for i, node in enumerate(cfg.onnx_edge):
        if node.target != cfg.target:
            out.append((("onnxEdge", i, "target"), f"onnxEdge[{i}] ({node.name}): target {node.target} does not match "
                        f"the stack target {cfg.target}"))
    if cfg.monitoring is not None:
        if cfg.target != "kubernetes":
            out.append((("monitoring",), f"monitoring needs target kubernetes; target is {cfg.target}"))
        elif cfg.monitoring.mode == "operator" and not cfg.cluster.prometheus_operator:
            out.append((("monitoring", "mode"), "monitoring.mode operator needs cluster.prometheusOperator true "
                        "(PodMonitor/PrometheusRule CRDs); set it or use mode standalone"))
    return out


def inference_gateway_problems(cfg: Any) -> Problems:
    """cluster.inferenceGateway (GAIE): the model gateway forwards to the cluster's Gateway instead of its own routers,
    so it needs the gateway, on Kubernetes, and nothing that only those routers do (docs/gateway.md, "GAIE")."""
    gaie = cfg.cluster.inference_gateway
    if gaie is None:
        return []
    where = ("cluster", "inferenceGateway")
    if cfg.target != "kubernetes":
        return [(where, f"a Gateway API Inference Extension gateway is a Kubernetes cluster's; target is {cfg.target}: "
                        "remove cluster.inferenceGateway")]
    out: Problems = []
    if not cfg.gateway_enabled:
        out.append((where, "the model gateway routes through this Gateway, and the stack has no gateway "
                           "(gateway.enabled is false, or unset with one vllm service of at most 2 replicas): set "
                           "gateway.enabled: true, or remove cluster.inferenceGateway"))
    if "policy" in cfg.gateway.model_fields_set:
        out.append((("gateway", "policy"), "gateway.policy chooses vllm-router's policy, and with "
                    "cluster.inferenceGateway there is no router (the endpoint picker scores replicas): remove it"))
    for i, v in enumerate(cfg.vllm):
        if v.canary is not None:
            out.append((("vllm", i, "canary"), f"vllm[{i}] ({v.name}): a canary split needs the gateway's own routers, "
                        "and with cluster.inferenceGateway there are none: remove canary (or cluster.inferenceGateway)"))
        if v.rollout == "blue-green":
            out.append((("vllm", i, "rollout"), f"vllm[{i}] ({v.name}): blue-green switches the Service once the new "
                        "revision is ready, and an InferencePool selects every ready pod of both revisions: choose "
                        "rollout surge or recreate with cluster.inferenceGateway"))
    return out


def lifecycle_problems(cfg: Any) -> Problems:
    """Each vLLM service's cache, rollout and canary rules on this cluster (components/vllm/lifecycle.py)."""
    out: Problems = []
    cluster = cfg.cluster
    for i, v in enumerate(cfg.vllm):
        rwx = bool(cluster.rwx_storage_class) or v.source.prefilled_claim is not None
        if v.max_replicas_resolved > 1 and not rwx:
            key = "maxReplicas" if v.max_replicas else "replicas"
            out.append((("vllm", i, key), f"{v.max_replicas_resolved} replicas spread over nodes, "
                        "and serving pods never download: the model cache must be ReadWriteMany; set "
                        "cluster.rwxStorageClass, or source.prefilledClaim (an RWX claim you fill)"))
        if v.rollout == "surge":
            if cluster.spare_gpus < v.gpus:
                out.append((("vllm", i, "rollout"), f"surge starts a new pod ({v.gpus} "
                            f"GPU{'s' if v.gpus > 1 else ''}) before an old one stops, and cluster.spareGpus is "
                            f"{cluster.spare_gpus}: declare the spare capacity (cluster.spareGpus), or choose rollout "
                            "recreate (downtime while the new pod starts) or blue-green"))
            elif not rwx:
                out.append((("vllm", i, "rollout"), "surge runs an old and a new pod at once, on "
                            "any node: the model cache must be ReadWriteMany (cluster.rwxStorageClass) or "
                            "source.prefilledClaim; or choose blue-green"))
        if v.canary is not None and not cfg.gateway_enabled:
            out.append((("vllm", i, "canary"), "a canary needs the model gateway in front of the model, and this stack "
                        "has none (gateway.enabled): the gateway splits the model's requests between the stable and "
                        "the canary revision; enable it, or remove canary (rollout blue-green switches all traffic once "
                        "the new revision is ready)"))
    return out


def name_problems(cfg: Any) -> Problems:
    """Instance names are object names: unique per namespace (Kubernetes) or Docker host, after defaulting.

    vLLM services and edge nodes name their objects ``<name>`` and ``<name>-<part>``; the Ollama and
    monitoring stacks and the model gateway are single instances (stacks/instances.py) with objects
    ``<instance>-<part>``.
    A name equal to another instance's, or inside a fixed instance's prefix, would create two objects of
    one kind and name: the API server (or Docker) keeps the first and refuses the second.
    """
    out: Problems = []
    seen: dict[str, str] = {}
    present = {OLLAMA_NAME: cfg.ollama is not None, MONITORING_NAME: cfg.monitoring is not None,
               GATEWAY_NAME: cfg.gateway_enabled}
    fixed = [name for name, here in present.items() if here]
    for instance in fixed:
        seen[instance] = SINGLE_INSTANCES[instance]
    entries = [("vllm", i, v.name) for i, v in enumerate(cfg.vllm)]
    entries += [("onnxEdge", i, n.name) for i, n in enumerate(cfg.onnx_edge)]
    for key, i, name in entries:
        owner = seen.get(name)
        clash = next((f for f in fixed if name.startswith(f + "-")), None)
        if owner is not None:
            out.append(((key, i, "name"), f"{name!r} is already the name of {owner}; names must be unique in the "
                        "stack (they name its objects)"))
        elif clash is not None:
            out.append(((key, i, "name"), f"{name!r} collides with {SINGLE_INSTANCES[clash]}, whose objects are named "
                        f"{clash}-*; pick a name that does not start with {clash}-"))
        else:
            seen[name] = f"{key}[{i}]"
    return out


def served_name_problems(cfg: Any) -> Problems:
    """Behind the model gateway, a request's ``model`` picks one service: every served name (a service's
    servedModelName or catalog id, and each LoRA adapter's name) belongs to one service only."""
    if not cfg.gateway_enabled:
        return []
    out: Problems = []
    seen: dict[str, str] = {}
    for i, v in enumerate(cfg.vllm):
        key = "servedModelName" if v.served_model_name else "model"
        names = [(("vllm", i, key), v.served_name, f"vllm[{i}]")]
        names += [(("vllm", i, "loraAdapters", j, "name"), a.name, f"vllm[{i}].loraAdapters[{j}]")
                  for j, a in enumerate(v.lora_adapters)]
        for loc, name, entry in names:
            owner = seen.get(name)
            if owner is not None:
                out.append((loc, f"model name {name!r} is already served by {owner}; behind the model gateway a "
                                 "request's model picks one service, so each served name must be unique: set "
                                 "servedModelName (or rename the adapter)"))
            else:
                seen[name] = entry
    return out


def _overlap(a: str, b: str) -> bool:
    any_address = ("0.0.0.0", "::")  # noqa: S104 - comparing, not binding
    return a == b or a in any_address or b in any_address


def host_port_problems(cfg: Any) -> Problems:
    """Docker target: every published host port is different on one host (Docker refuses the second)."""
    if cfg.target != "docker":
        return []
    published: list[tuple[tuple[Any, ...], str, int]] = []
    if cfg.ollama is not None:
        o = cfg.ollama
        if o.auth_proxy:
            published.append((("ollama", "proxyPort"), o.publish_address, o.proxy_port))
        else:
            published.append((("ollama", "ollamaPort"), o.publish_address, o.ollama_port))
        if o.webui.enabled:
            published.append((("ollama", "webui", "hostPort"), o.publish_address, o.webui.host_port))
    for i, n in enumerate(cfg.onnx_edge):
        if n.target == "docker":
            published.append((("onnxEdge", i, "port"), n.publish_address, n.port))
    out: Problems = []
    for j, (loc, address, port) in enumerate(published):
        first = next((p for p in published[:j] if p[2] == port and _overlap(p[1], address)), None)
        if first is not None:
            where = ".".join(str(x) if isinstance(x, str) else f"[{x}]" for x in first[0]).replace(".[", "[")
            out.append((loc, f"host port {port} on {address} is already published by {where}; every port published "
                        "on one Docker host must differ"))
    return out


def ollama_problems(ollama: Any, target: str | None, memory_gb: float | None) -> Problems:
    """The Ollama stack's target-dependent rules, relative to StackConfig (``("ollama", ...)``)."""
    out: Problems = []
    if ollama.target is not None and ollama.target != target:
        out.append((("ollama", "target"), f"ollama.target {ollama.target} does not match the stack target {target}"))
    for loc, check in ((("ollama", "gpu"), lambda: ollama.check_target(target) if ollama.target in (None, target) else None),
                       (("ollama",), lambda: ollama.check_user(target)),
                       (("ollama",), lambda: ollama.check_fits(memory_gb) if target == "docker" and memory_gb else None)):
        try:
            check()
        except ValueError as exc:
            out.append((loc, str(exc)))
    return out
