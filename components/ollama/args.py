"""OllamaStackArgs: the inputs of :class:`components.ollama.OllamaStack`, and its memory sizing."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.base import ArgsModel
from components.gateway.args import GatewayClient
from components.gateway.named_clients import client_problems, single_proxy_clients
from components.ollama.modelfile import ModelfileVariant, render_modelfile
from components.ollama.models import OllamaModelRef, ResolvedModel, resolve_model
from components.ollama.settings import OllamaServerSettings
from components.ollama.webui import WebUiSettings
from components.optouts import SecurityOptOut
from components.catalog import get_cpu_tier
from components.sizing import Fix, MemoryPlan, report_ollama, worded
from components.sizing.common import bigger_tier
from components.validation import DockerGpus, DockerUser, HostPort, IpAddress, Labels, StorageQuantity, located

__all__ = ["OllamaStackArgs", "OllamaMemory", "OllamaHostFit"]

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True)
class OllamaMemory:
    """Memory for the Ollama server: the ``maxLoadedModels`` largest models loaded at once."""

    plans: tuple[MemoryPlan, ...]
    total_bytes: int
    limit_bytes: int
    cpu_request: str

    @property
    def limit_mb(self) -> int:
        return self.limit_bytes // MiB

    @property
    def request(self) -> str:
        return f"{max(1, math.ceil(self.total_bytes / GiB))}Gi"

    @property
    def limit(self) -> str:
        return f"{self.limit_bytes // GiB}Gi"


class OllamaStackArgs(ArgsModel):
    """Inputs of :class:`~components.ollama.OllamaStack` (stack key ``ollama``)."""

    target: Literal["docker", "kubernetes"] | None = Field(default=None, description="Where to deploy. Default None: the stack's `target`. Set it only to assert it; a mismatch is an error.")
    models: list[OllamaModelRef] = Field(min_length=1, description="Models to pull: catalog ids (resolved to their explicit-quantization Ollama tag) or pinned Ollama tags with a size (qwen3:0.6b, phi4-mini:3.8b-q4_K_M). Required.")
    modelfiles: list[ModelfileVariant] = Field(default_factory=list, description="Modelfile variants built with `ollama create` after the pulls. Default none.")
    server: OllamaServerSettings = Field(default_factory=OllamaServerSettings, description="Ollama server settings (real OLLAMA_* variables only). Defaults: Ollama's own.")
    gpu: DockerGpus = Field(default="none", description="GPU access: none, all, or a list of device ids (Docker only: `--gpus device=0,1`). Kubernetes: `all` requests one nvidia.com/gpu; device ids are an error there (the scheduler picks the device). Default none: CPU inference, works on any laptop.")
    webui: WebUiSettings = Field(default_factory=WebUiSettings, description="Open WebUI settings. Default: enabled, auth on, sign-up off.")
    publish_address: IpAddress = Field(default="127.0.0.1", alias="publishAddress", description="Docker target: host address ports are published on. Default 127.0.0.1: Ollama has no authentication, so nothing leaves the host unless authProxy is on.")
    ollama_port: HostPort = Field(default=11434, alias="ollamaPort", description="Docker target: host port for the Ollama API (without the proxy). Default 11434, Ollama's port.")
    auth_proxy: bool = Field(default=False, alias="authProxy", description="Put an API-key proxy (nginx, key = the stack's apiKey secret, generated when unset) in front of Ollama. Docker: Ollama itself is then not published; required to publish beyond loopback. Kubernetes: a sidecar in Ollama's pod, the Service's `http-auth` port (baseUrl), the only port `clients` are admitted on. Default false.")
    proxy_port: HostPort = Field(default=8080, alias="proxyPort", description="Docker target: host port of the auth proxy. Default 8080.")
    docker_user: DockerUser | None = Field(default=None, alias="dockerUser", description="Docker target: run Ollama and Open WebUI as this uid:gid. Default None: the images' own user (root, with every capability dropped and no-new-privileges), because named volumes are created root-owned; then a runAsNonRoot entry in optOuts (with its reason) is required. Set e.g. '10001:10001' after chowning the volumes.")
    api_clients: list[GatewayClient] = Field(default_factory=list, alias="apiClients", description="Named clients of the auth proxy (needs authProxy), in the model gateway's client shape: name, models (served names it may use), rpm, concurrency, burst. Keys per client from the clientKeys secret (`pulumi config set --secret --path 'clientKeys.<client>' KEY`) or generated, stored as a secret file of SHA-256 hashes, compared exactly. The proxy is then the gateway's nginx config in front of Ollama: the OpenAI routes only (/v1/chat/completions, /v1/completions, /v1/embeddings; /v1/models lists the caller's models), 401 for a wrong key, 403 for a model outside the client's list, 429 with Retry-After over a limit (docs/ollama.md). Default none: one key (apiKey), every route, no limits.")
    clients: list[Labels] = Field(default_factory=list, description="Kubernetes target: pod label selectors (same namespace) that may call Ollama besides the web UI; with authProxy only on the proxy's port. Default none: only Open WebUI.")
    storage_size: StorageQuantity = Field(default="30Gi", alias="storageSize", description="Kubernetes target: PVC size for the model store. Default 30Gi: room for a few 4-bit small models and re-pulls.")
    opt_outs: list[SecurityOptOut] = Field(default_factory=list, alias="optOuts", description="Extra typed opt-outs from secure defaults, each with a reason. Default none.")

    @field_validator("models")
    @classmethod
    def _pinned(cls, models: list[str]) -> list[str]:
        tags = [resolve_model(m).tag for m in models]
        dupes = sorted({t for t in tags if tags.count(t) > 1})
        if dupes:
            raise ValueError(f"models list {', '.join(dupes)} more than once")
        return models

    @model_validator(mode="after")
    def _cross(self) -> "OllamaStackArgs":
        if self.target is not None:
            self.check_target(self.target)
        if not self.auth_proxy and not ipaddress.ip_address(self.publish_address).is_loopback:
            raise ValueError(
                f"publishAddress {self.publish_address} exposes Ollama, which has no authentication, beyond this "
                "host; set authProxy: true (API-key proxy, Ollama itself unpublished) or keep 127.0.0.1"
            )
        resolved = {m: resolve_model(m) for m in self.models}
        names = {r.tag for r in resolved.values()}
        for v in self.modelfiles:
            if v.base not in resolved and v.base not in names:
                raise ValueError(f"modelfiles {v.name}: base {v.base!r} is not one of models ({', '.join(self.models)})")
            spec = self._resolve_base(v.base).spec
            if v.num_ctx and v.num_ctx > spec.max_position_embeddings:
                raise ValueError(f"modelfiles {v.name}: num_ctx {v.num_ctx} is above {spec.id}'s maximum "
                                 f"context of {spec.max_position_embeddings}")
            if v.name in names:
                raise ValueError(f"modelfiles {v.name}: the name clashes with a pulled model")
        self._check_api_clients()
        variant_names = [v.name for v in self.modelfiles]
        if len(set(variant_names)) != len(variant_names):
            raise ValueError("modelfiles names must be unique")
        if self.server.max_loaded_models > len(self.models):
            raise ValueError(f"server.maxLoadedModels {self.server.max_loaded_models} is more than the "
                             f"{len(self.models)} pulled models; sizing would over-reserve memory")
        return self

    def _check_api_clients(self) -> None:
        if not self.api_clients:
            return
        if not self.auth_proxy:
            located([(("authProxy",), "must be true with apiClients (they are the auth proxy's clients)")])
        located([(("apiClients", *loc), message) for loc, message in client_problems(self.api_clients, self.served_models())])

    def check_target(self, target: str) -> None:
        """Rules that depend on the deployment target (this Args' ``target`` or the stack's)."""
        if self.target is not None and self.target != target:
            raise ValueError(f"ollama.target {self.target} does not match the stack target {target}")
        if target == "kubernetes" and isinstance(self.gpu, list):
            raise ValueError(
                f"ollama.gpu = {self.gpu!r}: device ids are Docker-only (`--gpus device=...`); on Kubernetes the scheduler "
                "picks the device: use gpu: all (one nvidia.com/gpu) or none"
            )

    def check_user(self, target: str) -> None:
        """Docker: a root container is never implicit; it takes dockerUser or an explicit opt-out."""
        if target == "docker" and self.docker_user is None and not any(o.setting == "runAsNonRoot" for o in self.opt_outs):
            raise ValueError(
                "ollama on Docker runs as the images' own user (root) unless dockerUser is set: set ollama.dockerUser "
                "(e.g. '10001:10001', after chowning the named volumes), or record the exception explicitly: "
                "optOuts: [{setting: runAsNonRoot, reason: ...}]"
            )

    # ------------------------------------------------------------------ derived
    def resolved(self) -> list[ResolvedModel]:
        return [resolve_model(m) for m in self.models]

    def _resolve_base(self, base: str) -> ResolvedModel:
        for r in self.resolved():
            if base in (r.ref, r.tag):
                return r
        raise KeyError(base)

    def served_models(self) -> list[str]:
        """What clients can put in ``model``: the pulled tags and the variant names."""
        return [r.tag for r in self.resolved()] + [v.name for v in self.modelfiles]

    def proxy_clients(self, target: str) -> list[GatewayClient]:
        """The auth proxy's named clients: ``apiClients``, plus on Kubernetes the post-deploy smoke Job's own
        client ``slm-verify`` (every served model; 60 requests per minute, 2 in flight: it sends two). Empty
        without ``apiClients`` (the proxy then takes the single apiKey)."""
        return single_proxy_clients(self.api_clients, self.served_models(), target)

    def modelfile_texts(self) -> dict[str, str]:
        return {v.name: render_modelfile(v, self._resolve_base(v.base).tag) for v in self.modelfiles}

    def memory(self) -> OllamaMemory:
        """Size each model at its largest context (server default or a variant's num_ctx) × numParallel."""
        s = self.server
        plans = []
        for r in self.resolved():
            ctx = max([s.context_length] + [v.num_ctx or 0 for v in self.modelfiles
                                            if self._resolve_base(v.base).tag == r.tag])
            plans.append(report_ollama(r.spec, quantization=r.quantization, num_ctx=ctx,
                                       num_parallel=s.num_parallel, kv_cache_type=s.kv_cache_type))
        largest = sorted(plans, key=lambda p: p.total_bytes, reverse=True)[: s.max_loaded_models]
        total = sum(p.total_bytes for p in largest)
        limit = math.ceil(total * 1.25 / GiB) * GiB
        cpu = max((p.cpu_request for p in largest), key=lambda c: float(c.rstrip("m")) / (1000 if c.endswith("m") else 1))
        return OllamaMemory(tuple(plans), total, limit, cpu)

    def host_fit(self, host_memory_gb: float) -> OllamaHostFit:
        """Docker target: the server's models + Open WebUI + the proxies against the host's memory, with what
        would fit (the sizing model's fixes for the largest model on what the others leave)."""
        mem = self.memory()
        host = int(host_memory_gb * GiB)
        proxies = int(self.auth_proxy) + int(self.webui.enabled)  # 128 MiB each (components/auth_proxy_docker.py PROXY_MEMORY_MB)
        others = (self.webui.memory_mb * MiB if self.webui.enabled else 0) + proxies * 128 * MiB
        loaded = tuple(sorted(mem.plans, key=lambda p: p.total_bytes, reverse=True)[: self.server.max_loaded_models])
        biggest = loaded[0]
        fit = report_ollama(biggest.model, quantization=biggest.quantization, num_ctx=biggest.num_ctx or 4096,
                            num_parallel=self.server.num_parallel, kv_cache_type=self.server.kv_cache_type,
                            host_memory_bytes=max(0, host - others))
        fixes = [Fix("max_loaded", "1", "fewer models kept loaded",
                     "OLLAMA_MAX_LOADED_MODELS=1 (models are swapped instead of kept loaded)")] \
            if self.server.max_loaded_models > 1 else []
        fixes += [f for f in fit.fixes if f.setting != "host"]
        bigger = bigger_tier(mem.total_bytes + others, host, installed=True)  # the host holds the others too
        return OllamaHostFit(loaded, mem.total_bytes + others, host, others, tuple(fixes + [bigger] if bigger else fixes))

    def check_fits(self, host_memory_gb: float) -> None:
        """Docker target: refuse (ValueError, in stack-file keys) when :meth:`host_fit` does not fit."""
        fit = self.host_fit(host_memory_gb)
        if fit.fits:
            return
        now = _tag(fit.loaded[0].model, fit.loaded[0].quantization)
        words = {**STACK_WORDS, "quantization": lambda f: f"models: {_tag(fit.loaded[0].model, f.value)} instead of {now}"}
        parts = " + ".join(f"{p.model} {p.quantization} {p.total_bytes / GiB:.1f} GiB" for p in fit.loaded)
        context = ("server.contextLength" if (fit.loaded[0].num_ctx or 0) <= self.server.context_length
                   else "a Modelfile variant's num_ctx")
        raise ValueError(
            f"the models do not fit the Docker host: {parts} ({context} {fit.loaded[0].num_ctx} × server.numParallel "
            f"{self.server.num_parallel}, server.maxLoadedModels {self.server.max_loaded_models}) + "
            f"{fit.others_bytes / GiB:.1f} GiB for Open WebUI/proxy = {fit.needed_bytes / GiB:.1f} GiB, but "
            f"docker.memoryGb is {host_memory_gb:g} ({fit.host_bytes / GiB:.1f} GiB). "
            f"What would fit: {'; '.join(worded(fit.fixes, words)) or 'a smaller model or a bigger host'}"
        )


@dataclass(frozen=True)
class OllamaHostFit:
    """:meth:`OllamaStackArgs.host_fit`: the models loaded at once, needed vs the host, what would fit."""

    loaded: tuple[MemoryPlan, ...]
    needed_bytes: int
    host_bytes: int
    others_bytes: int
    fixes: tuple[Fix, ...]

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= self.host_bytes


# What would fit, in stack-file keys (the sizing model speaks Ollama's num_ctx and variables).
STACK_WORDS = {
    "context": "server.contextLength: {value}",
    "concurrency": "server.numParallel: {value}",
    "kv_cache": "server.kvCacheType: {value} with server.flashAttention: true",
    "max_loaded": "server.maxLoadedModels: {value}",
    "host": lambda f: f"docker.memoryGb: {get_cpu_tier(f.value).memory_gib}",
}


def _tag(model: str, quantization: str) -> str:
    from components.catalog import get_model
    from components.ollama.models import catalog_tag

    return catalog_tag(get_model(model), quantization)
