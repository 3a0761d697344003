"""StackConfig: one environment's configuration, validated before anything is built.

The same model is filled from two places:

* under the real engine, from Pulumi config (``pulumi.Config("slm-deploy")``);
* offline, from ``stacks/Pulumi.<stack>.yaml`` merged with the defaults declared in
  ``Pulumi.yaml`` (the Pulumi SDK does not apply those; the CLI does).

Keys are the camelCase names used in the stack files (``slm-deploy:<key>``).
Secrets are *not* fields here: they are separate secret config keys (see
:data:`SECRET_KEYS`) read as Pulumi secret outputs by the program.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from components.base import ArgsModel
from components.context import ClusterCapabilities
from components.gateway.args import GatewayArgs
from components.lifecycle.benchmark import BenchmarkArgs
from components.monitoring.args import MonitoringStackArgs
from components.ollama.args import OllamaStackArgs
from components.onnx_edge.args import OnnxEdgeNodeArgs
from components.validation import DnsLabel, DockerHostUrl, HostMemoryGb, LabelValue, located
from components.vllm.args import VllmServiceArgs
from stacks.consistency import (
    component_problems,
    inference_gateway_problems,
    host_port_problems,
    lifecycle_problems,
    name_problems,
    ollama_problems,
    served_name_problems,
)

__all__ = [
    "PROJECT",
    "SECRET_KEYS",
    "ClusterCapabilities",
    "DockerHost",
    "StackConfig",
    "TEMPLATE_SYNTAX_KEY",
    "template_syntax",
]

PROJECT = "slm-deploy"

SECRET_KEYS: dict[str, str] = {
    "apiKey": "API key clients present to the model servers' authenticating proxy. Generated when unset.",
    "hfToken": "Hugging Face token for gated models, mounted into download steps as a file.",
    "grafanaAdminPassword": "Grafana admin password. Generated when unset.",
    "webuiSecretKey": "Open WebUI session-signing key (WEBUI_SECRET_KEY). Generated when unset.",
    "alertmanagerWebhookUrl": "Alertmanager receiver URL (webhook / Slack incoming webhook).",
    "clientKeys": "Keys of named API clients (gateway.clients, ollama.apiClients, onnxEdge[].apiClients), per client: `pulumi config set --secret --path 'clientKeys.<client>' KEY` "
                  "(or `clientKeys.<client>[0]`, `[1]` ...: the first is current, the others stay accepted while "
                  "clients roll over). At least 32 printable characters. Clients without one get a generated key.",
}
"""Secret config keys: set with ``pulumi config set --secret``; never fields of StackConfig."""



TEMPLATE_SYNTAX_KEY = "templateSyntax"
"""``Field(json_schema_extra={TEMPLATE_SYNTAX_KEY: "why"})`` marks a string field whose value is itself a
template (e.g. a Modelfile TEMPLATE, a Go template Ollama runs); every other string refuses template syntax."""

_TEMPLATE_OPEN = re.compile(r"\{\{|\{%")
# checkov's kubernetes parser skips a whole file matching these (checkov/kubernetes/parser/k8_yaml.py):
# even a field that is a template may not look like a Helm template.
_HELM_LOOKALIKE = re.compile(r"\{\{-?\s*\.(Values|Release)\.")


def _needs_template_syntax(model: BaseModel, name: str) -> bool:
    extra = type(model).model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get(TEMPLATE_SYNTAX_KEY))


def _strings(value: Any, path: str, allowed: bool):
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            alias = type(value).model_fields[name].alias or name
            child = f"{path}.{alias}" if path else alias
            yield from _strings(getattr(value, name), child, _needs_template_syntax(value, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, f"{path}.{key}", False)
            yield from _strings(item, f"{path}.{key}", allowed)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]", allowed)
    elif isinstance(value, str):
        yield path, value, allowed


def template_syntax(config: BaseModel) -> list[tuple[str, str, str]]:
    """``(key path, value, why refused)`` for every user string that carries template syntax.

    Rendered manifests, compose files, alert rules and Alertmanager templates are read by tools that
    treat ``{{`` / ``{%`` as template code: checkov skips a manifest that looks like a Helm template
    (so nothing in it is judged), Prometheus and Alertmanager execute Go templates in annotations.
    One walk over every string field (and map key) of the config refuses it at load; a field whose
    value *is* a template says so with :data:`TEMPLATE_SYNTAX_KEY` and is only refused Helm look-alikes.
    """
    return _refusals(_strings(config, "", False))


def _template_field_aliases(model: type[BaseModel], seen: set | None = None) -> set[str]:
    """Aliases of every field, in ``model`` and the models it nests, that is itself a template."""
    import typing

    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, f in model.model_fields.items():
        if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get(TEMPLATE_SYNTAX_KEY):
            names.add(f.alias or name)
        stack = [f.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                names |= _template_field_aliases(t, seen)
            stack.extend(typing.get_args(t))
    return names


def _raw_strings(value: Any, path: str, allowed: bool, template_fields: set[str]):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _raw_strings(str(key), f"{path}.{key}" if path else str(key), False, template_fields)
            yield from _raw_strings(item, f"{path}.{key}" if path else str(key), str(key) in template_fields,
                                    template_fields)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _raw_strings(item, f"{path}[{i}]", allowed, template_fields)
    elif isinstance(value, str):
        yield path, value, allowed


def template_syntax_raw(values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """:func:`template_syntax` on raw config values, for when validation failed elsewhere (so every problem is
    reported at once); template fields are recognised by name."""
    return _refusals(_raw_strings(values, "", False, _template_field_aliases(StackConfig)))


def _refusals(strings) -> list[tuple[str, str, str]]:
    found = []
    for path, value, allowed in strings:
        if not allowed and _TEMPLATE_OPEN.search(value):
            found.append((path, value, "template syntax ('{{' or '{%') is not allowed here: rendered files are read by "
                          "template engines and by checkov, which skips files that look like Helm templates"))
        elif allowed and _HELM_LOOKALIKE.search(value):
            found.append((path, value, "'{{ .Values.' / '{{ .Release.' makes checkov skip the rendered file as a Helm "
                          "template; this template may use other fields only"))
    return found


class DockerHost(ArgsModel):
    """The Docker engine a docker-target stack deploys to."""

    host: DockerHostUrl = Field(default="unix:///var/run/docker.sock", description="Docker engine address: unix:///path, tcp://host[:port] or ssh://[user@]host[:port]. Default: the local socket.")
    memory_gb: HostMemoryGb = Field(default=16, alias="memoryGb", description="Host memory in GB, for the fit check. Default 16 (a common laptop).")


class StackConfig(ArgsModel):
    """One environment (dev, edge, staging, prod, or a team's own)."""

    target: Literal["kubernetes", "docker"] = Field(default="kubernetes", description="Where the stack deploys: a Kubernetes cluster or one Docker host. Default kubernetes.")
    namespace: DnsLabel = Field(default="slm", description="Kubernetes namespace for the stack's workloads (created with Pod Security 'restricted'). Default slm.")
    part_of: LabelValue = Field(default="slm-deploy", alias="partOf", description="Value of app.kubernetes.io/part-of on every object. Default slm-deploy.")
    cluster: ClusterCapabilities = Field(default_factory=ClusterCapabilities, description="Cluster capabilities (KEDA, Prometheus Operator, storage, GPU labels). Default: each field's own default (a plain cluster: no KEDA, no operator, default StorageClass).")
    docker: DockerHost = Field(default_factory=DockerHost, description="Docker host, for target docker. Default: the local socket with 16 GB for the fit check.")
    vllm: list[VllmServiceArgs] = Field(default_factory=list, description="vLLM services (components/vllm/), one per model; Kubernetes targets only. Default none.")
    ollama: OllamaStackArgs | None = Field(default=None, description="Ollama + Open WebUI (components/ollama/), on the Docker host or the cluster. Default None: no Ollama.")
    onnx_edge: list[OnnxEdgeNodeArgs] = Field(default_factory=list, alias="onnxEdge", description="ONNX Runtime GenAI edge servers (components/onnx_edge/), each on the Docker host (target docker) or k3s edge nodes (target kubernetes); every entry's target must match the stack target. Default none.")
    gateway: GatewayArgs = Field(default_factory=GatewayArgs, description="ModelGateway (components/gateway/): one OpenAI endpoint for every vLLM model, named client keys, per-client limits and metrics; Kubernetes targets only. Default: on when the stack has two or more vLLM services or one with more than two replicas (see gateway.enabled).")
    benchmark: BenchmarkArgs | None = Field(default=None, description="Run vLLM's own load generator (vllm bench serve, from the pinned image) against the stack's vLLM services after each rollout, and record measured TTFT/ITL/throughput next to sizing's prediction (ConfigMap <service>-benchmark; the benchmarks command prints it). `benchmark: {}` turns it on with defaults. Default None: off.")
    monitoring: MonitoringStackArgs | None = Field(default=None, description="MonitoringStack (components/monitoring/): standalone Prometheus/Alertmanager/Grafana or objects for the cluster's Prometheus Operator; Kubernetes targets only. Default None: no monitoring.")

    @field_validator("ollama")
    @classmethod
    def _ollama_fits(cls, value: OllamaStackArgs | None, info: ValidationInfo) -> OllamaStackArgs | None:
        if value is not None:
            docker = info.data.get("docker")
            # Located relative to StackConfig: drop the leading "ollama" (pydantic adds this field's own location).
            located([(loc[1:], message) for loc, message in
                     ollama_problems(value, info.data.get("target"), docker.memory_gb if docker else None)])
        return value

    @field_validator("gateway")
    @classmethod
    def _gateway_fits(cls, value: GatewayArgs, info: ValidationInfo) -> GatewayArgs:
        target, vllm = info.data.get("target"), info.data.get("vllm", [])
        if target != "kubernetes" and (value.enabled or value.clients):
            raise ValueError(f"a gateway needs target kubernetes; target is {target}: Docker and edge targets keep their single auth proxy")
        if "vllm" not in info.data:  # the vllm list is invalid and reported on its own: judge the gateway against it no further
            return value
        served = [v.served_name for v in vllm] + [a.name for v in vllm for a in v.lora_adapters]
        if not served and (value.enabled or value.clients):
            raise ValueError("a gateway (and its clients) needs models to route to; this stack has no vllm services")
        for i, client in enumerate(value.clients):
            for j, model in enumerate(client.models):
                if model not in served:
                    raise ValueError(f"clients[{i}].models[{j}] = {model}: not a model of this stack; served models: {', '.join(served)}")
        return value

    @property
    def gateway_enabled(self) -> bool:
        """gateway.enabled, or by default: a Kubernetes stack with two or more vLLM services or one with more than two replicas."""
        if self.gateway.enabled is not None:
            return self.gateway.enabled
        return self.target == "kubernetes" and (len(self.vllm) >= 2 or any(v.max_replicas_resolved > 2 for v in self.vllm))

    @property
    def served_models(self) -> list[str]:
        """Every model name the stack's vLLM services serve (base models and LoRA adapters)."""
        return [v.served_name for v in self.vllm] + [a.name for v in self.vllm for a in v.lora_adapters]

    def client_names(self) -> list[str]:
        """Every named API client of the stack, whose keys ``clientKeys`` may set: the gateway's clients (when it
        is on) and the single proxies' (``ollama.apiClients``, each edge node's ``apiClients``). One name on two
        proxies is one client with one key."""
        names = [c.name for c in self.gateway.effective_clients(self.served_models)] if self.gateway_enabled else []
        if self.ollama is not None and self.ollama.auth_proxy:
            names += [c.name for c in self.ollama.api_clients]
        names += [c.name for node in self.onnx_edge for c in node.api_clients]
        return list(dict.fromkeys(names))

    @field_validator("benchmark")
    @classmethod
    def _benchmark_targets(cls, value: BenchmarkArgs | None, info: ValidationInfo) -> BenchmarkArgs | None:
        if value is None or "vllm" not in info.data:  # vllm itself failed: its errors are reported
            return value
        names = [v.name for v in info.data["vllm"]]
        if not names:
            raise ValueError("benchmark runs vLLM's load generator (vllm bench serve) against the stack's vLLM services, "
                             "and this stack has none: remove benchmark, or add the model's vllm service")
        errors = [InitErrorDetails(type=PydanticCustomError(
                      "value_error", f"no vllm service is named {name!r}; the stack serves {', '.join(names)}"),
                      loc=("services", j), input=name)
                  for j, name in enumerate(value.services) if name not in names]
        if errors:
            raise ValidationError.from_exception_data("benchmark", errors)
        return value

    def secrets_needed(self) -> list[tuple[str, object, str, str]]:
        """``(key path, value, secret key, why)`` for every secret this configuration cannot run without."""
        needed = []
        for i, v in enumerate(self.vllm):
            if v.spec.gated and v.source.downloads:
                needed.append((f"vllm[{i}].model", v.model, "hfToken",
                               f"{v.spec.id} is gated on Hugging Face: its download needs the hfToken secret"))
        return needed

    @model_validator(mode="after")
    def _consistent(self) -> "StackConfig":
        """Every cross-component rule, each problem at its entry (see stacks/consistency.py)."""
        located(component_problems(self) + inference_gateway_problems(self) + lifecycle_problems(self)
                + name_problems(self) + served_name_problems(self)
                + host_port_problems(self))
        return self
