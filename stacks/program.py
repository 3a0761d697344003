"""The Pulumi program: load config -> run the gate -> compose components.

``__main__.py`` calls :func:`main`; the offline synth runs the very same
:func:`main` under the mock runtime (with ``gate=None``, because the synth *is*
the gate's input). Nothing is registered before the gate has passed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.namespace import restricted_namespace
from components.observability import MonitoringContribution
from components.vllm_service import VllmService
from slm_deploy.config import validate_values
from slm_deploy.errors import ConfigError
from stacks.schema import PROJECT, SECRET_KEYS, StackConfig

__all__ = ["read_config", "read_secrets", "compose", "main", "Gate"]

Gate = Callable[[str, dict[str, Any], list[str]], None]
"""``gate(stack, config_values, secret_keys)``: raises pulumi.RunError when the stack must not deploy."""


def _decode(raw: str, annotation: Any) -> Any:
    if annotation is str:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _raw_values() -> dict[str, Any]:
    config = pulumi.Config(PROJECT)
    values: dict[str, Any] = {}
    for name, field in StackConfig.model_fields.items():
        key = field.alias or name
        raw = config.get(key)
        if raw is not None:
            values[key] = _decode(raw, field.annotation)
    return values


def _set_secret_keys() -> list[str]:
    return [k for k in SECRET_KEYS if pulumi.runtime.get_config(f"{PROJECT}:{k}") is not None]


def read_config() -> StackConfig:
    """StackConfig from Pulumi config; problems are named against the stack file."""
    return validate_values(_raw_values(), f"stacks/Pulumi.{pulumi.get_stack()}.yaml")


def read_secrets() -> dict[str, pulumi.Output[str] | None]:
    """Each secret config key as a Pulumi secret output (None when unset)."""
    config = pulumi.Config(PROJECT)
    return {key: config.get_secret(key) for key in SECRET_KEYS}


def compose(cfg: StackConfig, secrets: dict[str, pulumi.Output[str] | None]) -> dict[str, Any]:
    """Compose the stack's components. Returns the stack outputs."""
    outputs: dict[str, Any] = {"target": cfg.target}
    contributions: list[MonitoringContribution] = []
    component_opts = pulumi.ResourceOptions()
    _DOCKER_PROVIDERS.clear()

    if cfg.target == "kubernetes":
        provider = k8s.Provider("kubernetes", context=cfg.cluster.kube_context, enable_server_side_apply=True)
        namespace = restricted_namespace(cfg.namespace, cfg.part_of, pulumi.ResourceOptions(provider=provider))
        component_opts = pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=[namespace])
        outputs["namespace"] = cfg.namespace

    # Serving components register here, each adding its monitoring contribution.
    for args in cfg.vllm:
        vllm = VllmService(
            args.name, args, cluster=cfg.cluster, namespace=cfg.namespace, part_of=cfg.part_of,
            api_key=secrets.get("apiKey"), hf_token=secrets.get("hfToken"), opts=component_opts,
        )
        contributions.append(vllm.monitoring)
        outputs[f"vllm.{args.name}"] = {
            "baseUrl": vllm.base_url, "servedModelNames": vllm.served_model_names,
            "apiKeySecretName": vllm.api_key_secret_name, "serviceName": vllm.service_name,
        }
    if cfg.ollama is not None:
        outputs["ollama"] = _compose_ollama(cfg, secrets, component_opts, contributions)
    for args in cfg.onnx_edge:
        outputs[f"onnxEdge.{args.name}"] = _compose_onnx_edge(cfg, args, secrets, component_opts, contributions)
    if cfg.monitoring is not None:
        from components.monitoring_stack import MonitoringStack

        monitoring = MonitoringStack(
            "monitoring", cfg.monitoring, contributions=contributions, namespace=cfg.namespace, part_of=cfg.part_of,
            cluster=cfg.cluster, grafana_admin_password=secrets.get("grafanaAdminPassword"),
            alert_webhook_url=secrets.get("alertmanagerWebhookUrl"), opts=component_opts,
        )
        outputs["monitoring"] = monitoring.outputs
    return outputs


_DOCKER_PROVIDERS: dict[str, Any] = {}


def _docker_provider(cfg: StackConfig) -> Any:
    """The stack's one docker Provider (shared by OllamaStack and OnnxEdgeNode on a docker target)."""
    import pulumi_docker as docker

    if "docker" not in _DOCKER_PROVIDERS:  # emptied at the start of every compose()
        _DOCKER_PROVIDERS["docker"] = docker.Provider("docker", host=cfg.docker.host)
    return _DOCKER_PROVIDERS["docker"]


def _compose_onnx_edge(cfg: StackConfig, args: Any, secrets: dict[str, pulumi.Output[str] | None],
                       component_opts: pulumi.ResourceOptions, contributions: list[MonitoringContribution]) -> dict[str, Any]:
    """One OnnxEdgeNode on the Docker host (shared docker Provider) or k3s edge nodes (component_opts)."""
    import pulumi_random as random

    from components.onnx_edge_node import OnnxEdgeNode

    opts = component_opts
    if args.target == "docker":
        opts = pulumi.ResourceOptions(providers={"docker": _docker_provider(cfg)})
    api_key = secrets.get("apiKey") or random.RandomPassword(f"{args.name}-api-key", length=40, special=False).result
    node = OnnxEdgeNode(
        args.name, args, api_key=api_key, hf_token=secrets.get("hfToken"), namespace=cfg.namespace,
        part_of=cfg.part_of, storage_class=cfg.cluster.storage_class, opts=opts,
    )
    contributions.append(node.monitoring)
    return {"endpoint": node.endpoint, "model": args.model, "maxLength": args.max_length}


def _compose_ollama(cfg: StackConfig, secrets: dict[str, pulumi.Output[str] | None],
                    component_opts: pulumi.ResourceOptions, contributions: list[MonitoringContribution]) -> dict[str, Any]:
    """OllamaStack on the Docker host (its own docker Provider) or the cluster (component_opts)."""
    import pulumi_random as random

    from components.ollama_stack import OllamaStack

    args = cfg.ollama
    assert args is not None
    opts = component_opts
    if cfg.target == "docker":
        import pulumi_docker as docker

        opts = pulumi.ResourceOptions(providers={"docker": _docker_provider(cfg)})
    webui_key = secrets.get("webuiSecretKey") or random.RandomPassword("webui-secret-key", length=48, special=False).result
    api_key = secrets.get("apiKey")
    if args.auth_proxy and api_key is None:
        api_key = random.RandomPassword("ollama-api-key", length=40, special=False).result
    stack = OllamaStack(
        "ollama", args, target=cfg.target, webui_secret_key=webui_key, api_key=api_key, namespace=cfg.namespace,
        part_of=cfg.part_of, storage_class=cfg.cluster.storage_class, gpu_taint_key=cfg.cluster.gpu_taint_key, opts=opts,
    )
    contributions.append(stack.monitoring)
    return {"baseUrl": stack.base_url, "webuiUrl": stack.webui_url, "models": stack.models}


def main(gate: Gate | None = None) -> None:
    """Entry point of the program. ``gate`` runs before anything is registered."""
    try:
        cfg = read_config()
    except ConfigError as exc:
        raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None
    if gate is not None:
        gate(pulumi.get_stack(), cfg.model_dump(by_alias=True, exclude_defaults=True, mode="json"), _set_secret_keys())
    for key, value in compose(cfg, read_secrets()).items():
        pulumi.export(key, value)
