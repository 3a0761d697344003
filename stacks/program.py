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

from components.context import Peer, PrometheusPeer, StackContext
from components.gateway import GatewayBackend, GatewayCanary, ModelGateway
from components.vllm.canary import canary_name
from components.gateway.constants import APP_NAME as GATEWAY_APP
from components.labels import selector_labels
from components.monitoring import MonitoringStack
from components.namespace import restricted_namespace
from components.observability import MonitoringContribution
from components.ollama import OllamaStack
from components.onnx_edge import OnnxEdgeNode
from components.vllm import VllmService
from components.gateway.keys import CONFIG_KEY as CLIENT_KEYS
from components.gateway.keys import configured_keys_or_none
from stacks.errors import ConfigError, Problem
from stacks.instances import GATEWAY_NAME, MONITORING_NAME, OLLAMA_NAME
from stacks.loader import build_root, check_secrets, validate_values
from stacks.schema import PROJECT, SECRET_KEYS, StackConfig

__all__ = ["config_values", "read_config", "read_secrets", "stack_context", "compose", "main", "Gate"]


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
    """Names (unqualified, e.g. ``apiKey``) of the secret keys this stack sets; never their values."""
    return [k for k in SECRET_KEYS if pulumi.runtime.get_config(f"{PROJECT}:{k}") is not None]


def config_values() -> dict[str, Any]:
    """The stack's config as one JSON document: what the program validates and what the gate judges.

    Both build from these very values (the gate child gets them verbatim), never from a re-serialized
    StackConfig: a dump with ``exclude_defaults`` drops explicitly set defaults (``null`` included),
    which changes what components derive from ``model_fields_set``.
    """
    return json.loads(json.dumps(_raw_values(), sort_keys=True))


def read_config(values: dict[str, Any] | None = None) -> StackConfig:
    """StackConfig from Pulumi config (or ``values`` from :func:`config_values`); problems are named
    against the stack file."""
    display = f"stacks/Pulumi.{pulumi.get_stack()}.yaml"
    config = validate_values(config_values() if values is None else values, display)
    check_secrets(config, set(_set_secret_keys()), display)
    _check_client_keys(config, display)
    return config


def _check_client_keys(config: StackConfig, display: str) -> None:
    """The decrypted ``clientKeys`` (a real run; offline it is a placeholder): its shape and clients, never its values."""
    text = pulumi.runtime.get_config(f"{PROJECT}:{CLIENT_KEYS}")
    if not text:
        return
    clients = config.client_names()
    try:
        configured_keys_or_none(text, clients)
    except ValueError as exc:
        raise ConfigError([Problem(display, f"{PROJECT}:{path}", what, has_value=False) for path, what in exc.args[0]]) from None


def read_secrets() -> dict[str, pulumi.Output[str] | None]:
    """Each secret config key as a Pulumi secret output (None when unset)."""
    config = pulumi.Config(PROJECT)
    return {key: config.get_secret(key) for key in SECRET_KEYS}


def stack_context(cfg: StackConfig) -> StackContext:
    """What every component of the stack shares: namespace, part-of, cluster, the monitoring peers, the gateway."""
    gateway = Peer(selector_labels(GATEWAY_APP, GATEWAY_NAME)) if cfg.gateway_enabled else None
    if cfg.monitoring is None:
        return StackContext(cfg.namespace, cfg.part_of, cfg.cluster, gateway=gateway)
    url, namespace_labels = cfg.monitoring.prometheus_endpoint(MONITORING_NAME, cfg.namespace)
    probers = tuple(Peer(pods, ns) for pods, ns in cfg.monitoring.prober_peers(MONITORING_NAME, cfg.namespace))
    return StackContext(cfg.namespace, cfg.part_of, cfg.cluster, PrometheusPeer(url, namespace_labels), probers, gateway)


class _Composition:
    """What the components of one stack share: the context, providers, namespace ordering, secrets, monitoring."""

    def __init__(self, cfg: StackConfig, secrets: dict[str, pulumi.Output[str] | None]):
        self.cfg = cfg
        self.ctx = stack_context(cfg)
        self.secrets = secrets
        self.contributions: list[MonitoringContribution] = []
        self.outputs: dict[str, Any] = {"target": cfg.target}
        self.k8s_opts = pulumi.ResourceOptions()
        self._docker_provider: pulumi.ProviderResource | None = None
        if cfg.target == "kubernetes":
            provider = k8s.Provider("kubernetes", context=cfg.cluster.kube_context, enable_server_side_apply=True)
            namespace = restricted_namespace(cfg.namespace, cfg.part_of, pulumi.ResourceOptions(provider=provider))
            self.k8s_opts = pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=[namespace])
            self.outputs["namespace"] = cfg.namespace

    def opts_for(self, target: str) -> pulumi.ResourceOptions:
        """Options for a component on ``target``: the cluster, or the stack's one Docker host."""
        if target == "kubernetes":
            return self.k8s_opts
        if self._docker_provider is None:
            import pulumi_docker as docker  # only docker-target stacks load the Docker provider SDK

            self._docker_provider = docker.Provider("docker", host=self.cfg.docker.host)
        return pulumi.ResourceOptions(providers={"docker": self._docker_provider})

    def secret_or_generated(self, key: str, name: str, length: int = 48) -> pulumi.Output[str]:
        """The stack's secret ``key``, or a generated one (kept in state as a secret)."""
        import pulumi_random as random

        return self.secrets.get(key) or random.RandomPassword(name, length=length, special=False).result


def _benchmarked(cfg: StackConfig, name: str) -> bool:
    return cfg.benchmark is not None and (not cfg.benchmark.services or name in cfg.benchmark.services)


def _compose_vllm(c: _Composition, gateway: ModelGateway | None) -> None:
    """VllmService per model; behind the gateway, their smoke and benchmark Jobs call through it."""
    for args in c.cfg.vllm:
        benchmarked = _benchmarked(c.cfg, args.name)
        vllm = VllmService(
            args.name, args, c.ctx, api_key=c.secrets.get("apiKey"), hf_token=c.secrets.get("hfToken"),
            benchmark=c.cfg.benchmark if benchmarked else None, gateway=gateway.endpoint if gateway else None,
            opts=c.opts_for("kubernetes"),
        )
        c.contributions.append(vllm.monitoring)
        c.outputs[f"vllm.{args.name}"] = {
            "baseUrl": vllm.base_url, "servedModelNames": vllm.served_model_names,
            "apiKeySecretName": vllm.api_key_secret_name, "serviceName": vllm.service_name,
        }
        if benchmarked:
            c.outputs.setdefault("benchmarks", {})[args.name] = vllm.benchmark


def _compose_gateway(c: _Composition) -> ModelGateway | None:
    """The ModelGateway in front of every vLLM model (when the stack has one). Built before the models, whose
    smoke and benchmark Jobs call through it; its verification client allows the largest benchmark's concurrency."""
    if not c.cfg.gateway_enabled:
        return None
    verify = max([4, *(v.plan.max_num_seqs for v in c.cfg.vllm if _benchmarked(c.cfg, v.name))])
    canaries = [GatewayCanary(canary_name(v.name), (v.served_name, *(a.name for a in v.lora_adapters)), v.canary)
                for v in c.cfg.vllm if v.canary is not None]
    backends = [GatewayBackend(v.name, (v.served_name, *(a.name for a in v.lora_adapters))) for v in c.cfg.vllm]
    gateway = ModelGateway(GATEWAY_NAME, c.cfg.gateway, c.ctx, models=c.cfg.served_models, verify_concurrency=verify,
                           canaries=canaries, backends=backends, configured_keys=c.secrets.get(CLIENT_KEYS),
                           opts=c.opts_for("kubernetes"))
    c.outputs["gateway"] = {"baseUrl": gateway.base_url, "serviceName": gateway.service_name,
                            "clientSecretNames": gateway.client_secret_names, "clientKeys": gateway.client_keys}
    return gateway


def _compose_ollama(c: _Composition) -> None:
    """OllamaStack on the Docker host or the cluster."""
    args = c.cfg.ollama
    if args is None:
        return
    single_key = args.auth_proxy and not args.api_clients  # named clients have keys of their own (clientKeys)
    api_key = c.secret_or_generated("apiKey", "ollama-api-key", 40) if single_key else c.secrets.get("apiKey")
    stack = OllamaStack(
        OLLAMA_NAME, args, c.ctx, target=c.cfg.target,
        webui_secret_key=c.secret_or_generated("webuiSecretKey", "webui-secret-key"), api_key=api_key,
        configured_keys=c.secrets.get(CLIENT_KEYS),
        context_root=build_root() / pulumi.get_stack() / "files",  # the rendered, gated generated files
        opts=c.opts_for(c.cfg.target),
    )
    c.contributions.append(stack.monitoring)
    if stack.client_metrics is not None:  # named clients on Kubernetes: the proxy's per-client metrics
        c.contributions.append(stack.client_metrics)
    c.outputs["ollama"] = {"baseUrl": stack.base_url, "webuiUrl": stack.webui_url, "models": stack.models,
                           **({"clientKeys": stack.client_keys} if stack.client_keys is not None else {})}


def _compose_onnx_edge(c: _Composition) -> None:
    """OnnxEdgeNodes on the Docker host (ssh://) or k3s edge nodes."""
    for args in c.cfg.onnx_edge:
        node = OnnxEdgeNode(
            args.name, args, c.ctx, api_key=c.secret_or_generated("apiKey", f"{args.name}-api-key", 40),
            hf_token=c.secrets.get("hfToken"), configured_keys=c.secrets.get(CLIENT_KEYS), opts=c.opts_for(args.target),
            context_root=build_root() / pulumi.get_stack() / "files",  # the rendered, gated generated files
        )
        c.contributions.append(node.monitoring)
        if node.client_metrics is not None:  # named clients on Kubernetes: the proxy's per-client metrics
            c.contributions.append(node.client_metrics)
        c.outputs[f"onnxEdge.{args.name}"] = {"endpoint": node.endpoint, "model": args.model, "maxLength": args.max_length,
                                               **({"clientKeys": node.client_keys} if node.client_keys is not None else {})}


def _compose_monitoring(c: _Composition) -> None:
    """MonitoringStack last: it gathers every contribution the serving components made."""
    if c.cfg.monitoring is None:
        return
    monitoring = MonitoringStack(
        MONITORING_NAME, c.cfg.monitoring, c.ctx, contributions=c.contributions,
        grafana_admin_password=c.secrets.get("grafanaAdminPassword"),
        alert_webhook_url=c.secrets.get("alertmanagerWebhookUrl"), opts=c.opts_for("kubernetes"),
    )
    c.outputs["monitoring"] = monitoring.outputs


def compose(cfg: StackConfig, secrets: dict[str, pulumi.Output[str] | None]) -> dict[str, Any]:
    """Compose the stack's components (serving first, monitoring last). Returns the stack outputs."""
    c = _Composition(cfg, secrets)
    gateway = _compose_gateway(c)
    _compose_vllm(c, gateway)
    if gateway is not None:  # its monitoring after the models' (dashboards and rule groups in stack order)
        c.contributions.append(gateway.monitoring)
    _compose_ollama(c)
    _compose_onnx_edge(c)
    _compose_monitoring(c)
    return c.outputs


def main(gate: Gate | None = None, config: StackConfig | None = None) -> None:
    """Entry point of the program. ``gate`` runs before anything is registered.

    ``config``: the stack's StackConfig when the caller has validated it already (the offline synth,
    which loaded the stack file); the config is validated once per process. Default None: read and
    validate Pulumi config (the real engine). The gate gets :func:`config_values`, the very values the
    program validates.
    """
    values = config_values() if (config is None or gate is not None) else None
    if config is None:
        try:
            config = read_config(values)
        except ConfigError as exc:
            raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None
    if gate is not None:
        gate(pulumi.get_stack(), values, _set_secret_keys())
    for key, value in compose(config, read_secrets()).items():
        pulumi.export(key, value)
