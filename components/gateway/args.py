"""GatewayArgs: the inputs of :class:`components.gateway.ModelGateway` (clients, limits, routing, exposure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.base import ArgsModel
from components.gateway.constants import VERIFY_CLIENT
from components.validation import DnsLabel, DnsSubdomain, IngressHost

__all__ = ["GatewayArgs", "GatewayBackend", "GatewayCanary", "GatewayClient", "GatewayIngress", "ROUTER_POLICIES"]

ROUTER_POLICIES = ("cache_aware", "round_robin", "power_of_two", "consistent_hash", "random")
"""vllm-router 0.1.17 policies offered (``vllm_router/router_args.py:161-175``); kv_aware needs KV-event publishers."""


@dataclass(frozen=True)
class GatewayBackend:
    """One vLLM service behind the gateway: its name (``app.kubernetes.io/instance`` of its pods) and the model names
    it serves (base model and LoRA adapters). With cluster.inferenceGateway each gets an InferencePool."""

    service: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class GatewayCanary:
    """A vLLM service with a canary revision behind the gateway: its own router discovers only the canary's pods
    (``app.kubernetes.io/instance: <instance>``, ``slm-deploy.io/track: canary``), and ``share`` percent of the
    requests for ``models`` (the service's served name and adapters) go there (docs/lifecycle.md, "Canary")."""

    instance: str
    models: tuple[str, ...]
    share: int


class GatewayClient(ArgsModel):
    """One named client: its models and limits. Its keys: the clientKeys secret, else generated (docs/gateway.md)."""

    name: DnsLabel = Field(description="Client name (a DNS label): metrics and logs carry it, never the key. Required.")
    models: list[str] = Field(min_length=1, description="Served model names this client's key may use (the `model` of its requests). Required; /v1/models lists exactly these.")
    rpm: int = Field(gt=0, description="Requests per minute over all replicas of the gateway (nginx limit_req, split evenly across gateway replicas). Required: every client has limits.")
    concurrency: int = Field(gt=0, description="Requests in flight at once over all gateway replicas (nginx limit_conn; a stream counts until it ends). Required.")
    burst: int | None = Field(default=None, ge=0, description="Requests admitted at once above the steady rate. Default None: 10 s worth of the RPM.")
    tpm: int | None = Field(default=None, description="Tokens per minute. Not enforceable by this gateway (vllm-router 0.1.17 has one global token bucket, no per-client one; the proxy does not count streamed tokens): any value is refused. Default None.")

    @field_validator("tpm")
    @classmethod
    def _tpm(cls, value: int | None) -> int | None:
        if value is not None:
            raise ValueError("tokens-per-minute budgets are not enforceable by the gateway (vllm-router 0.1.17 has only a global token bucket; see docs/gateway.md): remove tpm")
        return value

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("models must not repeat a name")
        return value


class GatewayIngress(ArgsModel):
    """An Ingress in front of the gateway Service, TLS from a Secret that already exists."""

    host: IngressHost = Field(description="Host name clients use (the Ingress rule host and its TLS host). Required.")
    tls_secret_name: DnsSubdomain = Field(alias="tlsSecretName", description="Name of an existing kubernetes.io/tls Secret in the stack namespace. Required: no plain-HTTP Ingress.")
    class_name: DnsSubdomain | None = Field(default=None, alias="className", description="IngressClass. Default None: the cluster's default class.")


class GatewayArgs(ArgsModel):
    """The stack's model gateway (Kubernetes targets)."""

    enabled: bool | None = Field(default=None, description="Deploy the gateway. Default None: on when the stack has two or more vLLM services or any service with more than two replicas, off otherwise.")
    clients: list[GatewayClient] = Field(default_factory=list, description="Named clients with their models and limits. Default none: one client `default` may use every model at 600 RPM and 64 concurrent requests.")
    policy: Literal["cache_aware", "round_robin", "power_of_two", "consistent_hash", "random"] = Field(default="cache_aware", description="vllm-router replica policy. Default cache_aware: prefix-cache affinity, least-loaded when imbalanced.")
    replicas: int = Field(default=2, ge=1, le=10, description="Gateway pods. Default 2 (a PodDisruptionBudget keeps one up); client limits are split evenly across them.")
    ingress: GatewayIngress | None = Field(default=None, description="Expose the gateway through an Ingress with TLS. Default None: the ClusterIP Service only.")

    @model_validator(mode="after")
    def _unique_clients(self) -> "GatewayArgs":
        names = [c.name for c in self.clients]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"client names must be unique; {', '.join(dupes)} appears more than once")
        if VERIFY_CLIENT in names:
            raise ValueError(f"client name {VERIFY_CLIENT} is reserved for the gateway's smoke and benchmark Jobs "
                             "(docs/lifecycle.md); choose another name")
        return self

    def effective_clients(self, models: list[str], verify_concurrency: int | None = None) -> list[GatewayClient]:
        """The configured clients, or the one default client using every model; with ``verify_concurrency``,
        also the verification client (every model; ``verify_concurrency`` requests in flight and 120 per
        minute per slot on *each* gateway replica, since a Job's connections may all land on one)."""
        clients = self.clients or [GatewayClient(name="default", models=list(models), rpm=600, concurrency=64)]
        if verify_concurrency is not None:
            per_replica = max(1, verify_concurrency)
            clients = [*clients, GatewayClient(name=VERIFY_CLIENT, models=list(models), rpm=120 * per_replica * self.replicas,
                                               concurrency=per_replica * self.replicas)]
        return clients
