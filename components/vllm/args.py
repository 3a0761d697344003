"""VllmServiceArgs: the inputs of :class:`components.vllm.VllmService`, validated before anything is built.

Settings come from the sizing model (``components.sizing.size_vllm``): GPU count,
tensor-parallel size, ``--max-model-len``, ``--max-num-seqs``,
``--gpu-memory-utilization`` and the pod's CPU/memory. Explicit values are allowed
and still checked for fit. Every bad input is a ``ValueError`` raised by
:class:`VllmServiceArgs`, which the config loader turns into one located line.

Children: ServiceAccount (no token), model-cache PVC (shared) or emptyDir (per pod),
API-key Secret, auth-proxy ConfigMap + keys Secret, HF-token Secret (when set),
Deployment, ClusterIP Service, NetworkPolicy, PodDisruptionBudget and a KEDA
ScaledObject or HPA v2 on ``vllm:num_requests_waiting``.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.base import ArgsModel
from components.catalog import ModelSpec, get_model, list_cpu_tiers, list_gpus
from components.context import ClientSelector, Peer, StackContext
from components.lifecycle.source import ModelSource
from components.sizing import FitError, VllmPlan, checkpoint_bytes, fit_problem, size_vllm
from components.validation import (
    CatalogModelId, CommitSha, CpuQuantity, HfRepoId, HttpUrl, ImageKey, InstanceName, Labels, MemoryQuantity,
    ServedModelName, located,
)
from components.validation import parse_quantity as _quantity_value
from components.versions import image as pinned_image
from components.vllm.constants import DEFAULT_DOWNLOAD_PATTERNS, LORA_DIR, VLLM_EXAMPLES_DIR, VLLM_PORT
from components.vllm.flags import VllmFlags

__all__ = ["VllmServiceArgs", "LoraAdapter", "ClientSelector", "parse_quantity"]

GPU_COUNTS_ONE_NODE = 8
_CUDA_IMAGES = {"vllm-openai"}
_GiB = 1024**3



# The sizing model speaks vLLM's flags; a stack file is written in these keys (what would fit, per fix).
STACK_WORDS = {"context": "maxModelLen: {value}", "concurrency": "concurrency: {value}",
               "gpu_count": "gpuCount: {value} (tensorParallelSize: {value})", "quantization": "quantization: {value}",
               "kv_cache": "kvCacheDtype: {value}", "gpu": "gpu: {value}"}


def fit_in_stack_keys(plan: VllmPlan) -> str:
    """A plan that does not fit, in stack-file keys: ``KV at maxModelLen 32768 × concurrency 8 ... What would
    fit: a shorter context: maxModelLen: 4096; a bigger GPU: gpu: h100-80gb``."""
    return fit_problem(plan, STACK_WORDS, context="maxModelLen", concurrency="concurrency",
                       utilization="gpuMemoryUtilization")


def parse_quantity(value: str) -> float:
    """A Kubernetes quantity ("500m", "4", "16Gi", "1.5G") as a number; ValueError when malformed."""
    amount = _quantity_value(value)
    if amount is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 4, 500m, 16Gi, 1.5G)")
    return float(amount)


class LoraAdapter(ArgsModel):
    """A LoRA adapter served beside the base model (downloaded by the cache-fill Job, beside the checkpoint)."""

    name: InstanceName = Field(description="Served name of the adapter (clients pass it as `model`; it also names its download step and directory). Required.")
    hf_repo: HfRepoId = Field(alias="hfRepo", description="Hugging Face repo of the adapter. Required.")
    revision: CommitSha = Field(description="40-hex commit sha of the adapter. Required: adapters are pinned like models.")


_DEFAULT_CLIENT = ClientSelector(pod_labels={"slm-deploy.io/vllm-client": "true"})


class VllmServiceArgs(ArgsModel):
    """Inputs of :class:`VllmService`; every default is derived or documented here."""

    name: InstanceName = Field(description="Instance name: prefix of every object (DNS label, at most 42 characters). Required.")
    model: CatalogModelId = Field(description="Catalog model id (e.g. phi-4-mini-instruct, qwen3-8b); it gives the architecture for sizing, the pinned checkpoint and the tool parser. Required.")
    hf_repo: HfRepoId | None = Field(default=None, alias="hfRepo", description="Checkpoint override: a Hugging Face repo with the catalog model's architecture (a fine-tune, or an AWQ/GPTQ export). Default None: the catalog checkpoint. Needs `revision`.")
    revision: CommitSha | None = Field(default=None, description="40-hex commit sha of `hfRepo` (or of the catalog checkpoint when the catalog pins none). Default None: the catalog's pinned revision.")
    served_model_name: ServedModelName | None = Field(default=None, alias="servedModelName", description="Name clients pass as `model`. Default None: the catalog id.")
    quantization: Literal["bf16", "fp16", "fp8", "awq", "gptq"] = Field(default="bf16", description="Weight format. Default bf16 (the published dtype of every catalog checkpoint). fp8 is dynamic (Ada/Hopper GPUs); awq/gptq need a checkpoint quantized that way.")
    dtype: Literal["auto", "bfloat16", "float16"] = Field(default="auto", description="Activation dtype (--dtype). Default auto: the checkpoint's dtype (float16 with quantization fp16).")
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] = Field(default="auto", alias="kvCacheDtype", description="KV-cache dtype (--kv-cache-dtype). Default auto: the model dtype; fp8 halves the KV cache.")
    max_model_len: int | None = Field(default=None, ge=256, alias="maxModelLen", description="Context length (--max-model-len). Default None: min(model maximum, 8192), which keeps KV cache for concurrency on small GPUs.")
    concurrency: int = Field(default=4, ge=1, le=256, description="Sequences of full context that must fit at once; the sizing model derives --max-num-seqs from the free KV cache. Default 4.")
    gpu: Literal["l4", "a10g", "l40s", "a100-40gb", "a100-80gb", "h100-80gb", "h200"] = Field(default="l4", description="GPU type (catalog id); selects nodes by its product label. Default l4 (24 GB, the smallest common datacenter GPU).")
    gpu_count: int | None = Field(default=None, ge=1, alias="gpuCount", description="GPUs per pod. Default None: the smallest of 1, 2, 4, 8 that fits.")
    tensor_parallel_size: int | None = Field(default=None, ge=1, alias="tensorParallelSize", description="--tensor-parallel-size. Default None: equal to gpuCount.")
    gpu_memory_utilization: float = Field(default=0.9, gt=0.1, le=0.98, alias="gpuMemoryUtilization", description="Share of GPU memory vLLM may use (--gpu-memory-utilization). Default 0.9 (vLLM's default).")
    replicas: int = Field(default=1, ge=1, description="Minimum (and initial) replicas. Default 1.")
    max_replicas: int | None = Field(default=None, ge=1, alias="maxReplicas", description="Maximum replicas for autoscaling on queue depth. Default None: equal to replicas (no autoscaler).")
    scale_to_zero: bool = Field(default=False, alias="scaleToZero", description="Let KEDA scale to 0 replicas when idle (needs cluster.keda and activationQuery). Default false: GPU pods cold-start in minutes.")
    activation_query: str | None = Field(default=None, alias="activationQuery", description="PromQL that is > 0 when requests arrive while at 0 replicas (e.g. a gateway's request rate). Default None; required with scaleToZero, since at 0 replicas vLLM exports no metrics.")
    queue_target: int = Field(default=5, ge=1, alias="queueTarget", description="Waiting requests per replica (vllm:num_requests_waiting) the autoscaler aims for. Default 5.")
    prometheus_url: HttpUrl | None = Field(default=None, alias="prometheusUrl", description="Prometheus the KEDA trigger queries. Default None: http://prometheus.<namespace>.svc.cluster.local:9090 (the MonitoringStack's standalone Prometheus).")
    tool_calling: bool = Field(default=False, alias="toolCalling", description="Enable OpenAI tool calling (--enable-auto-tool-choice with the catalog's --tool-call-parser). Default false.")
    lora_adapters: list[LoraAdapter] = Field(default_factory=list, alias="loraAdapters", description="LoRA adapters to serve (--enable-lora --lora-modules). Default none.")
    max_lora_rank: int = Field(default=16, ge=1, le=512, alias="maxLoraRank", description="--max-lora-rank when adapters are set. Default 16 (vLLM's default).")
    extra_args: VllmFlags = Field(default_factory=list, alias="extraArgs", description="Extra vllm serve flags, validated against the pinned version's flag list. Default none.")
    device: Literal["cuda", "cpu"] = Field(default="cuda", description="Accelerator. Default cuda; cpu needs a vLLM CPU image, which versions.yaml does not pin yet.")
    image: ImageKey = Field(default="vllm-openai", description="Image key in components/versions.yaml (pinned by digest). Default vllm-openai (the CUDA build).")
    clients: list[ClientSelector] = Field(default_factory=lambda: [_DEFAULT_CLIENT], description="Pods allowed to call the API. Default: pods labelled slm-deploy.io/vllm-client=true in the same namespace.")
    prometheus_pod_labels: Labels = Field(default_factory=lambda: {"app.kubernetes.io/name": "prometheus"}, alias="prometheusPodLabels", description="Labels of the Prometheus pods allowed to scrape /metrics. Default app.kubernetes.io/name=prometheus (the MonitoringStack).")
    prometheus_namespace_labels: Labels | None = Field(default=None, alias="prometheusNamespaceLabels", description="Namespace labels of Prometheus. Default None: the service's own namespace.")
    model_cache: Literal["shared", "per-pod"] | None = Field(default=None, alias="modelCache", description="Model cache: 'shared' (the only choice): one PVC per revision, filled once by the cache-fill Job and mounted read-only by every replica; ReadWriteMany when pods can overlap (maxReplicas > 1, surge or blue-green; needs cluster.rwxStorageClass), else ReadWriteOnce. 'per-pod' (every pod downloading into an emptyDir) is refused: serving pods have no internet egress. Default None: shared.")
    source: ModelSource = Field(default_factory=ModelSource, description="Where the cache-fill Job gets the checkpoint: the public hub (default), a hub mirror (mirror, https; caBundleSecret), an S3-compatible bucket (s3) or a pre-filled claim (prefilledClaim: no Job, no egress). Default: the public Hugging Face hub.")
    rollout: Literal["recreate", "surge", "blue-green"] | None = Field(default=None, description="How a new revision or setting reaches the pods. surge: a new pod starts before an old one stops (needs cluster.spareGpus >= the pod's GPUs and a ReadWriteMany cache). blue-green: a second Deployment per revision; the Service switches to it once it is ready, then the old one and its cache are deleted (needs GPUs for both while it starts). recreate: stop, then start (one replica: downtime until the new pod is ready; more: one pod at a time). Default None: surge when cluster.spareGpus covers a pod, else recreate.")
    canary: int | None = Field(default=None, ge=0, le=100, description="Percentage (0-100) of this model's requests the ModelGateway sends to canaryRevision; the rest go to the stable revision (`revision`). Raise it in steps with `pulumi up`; promote by setting revision to the canary's and removing canary. Needs the gateway and canaryRevision (docs/lifecycle.md, Canary). Default None: no canary.")
    canary_revision: CommitSha | None = Field(default=None, alias="canaryRevision", description="40-hex commit sha of the checkpoint the canary Deployment (`<name>-canary`, 1 replica, its own verified cache) serves under the same model name. Required with canary. Default None.")
    cache_size_gb: int | None = Field(default=None, ge=1, alias="cacheSizeGb", description="Model cache size in GiB. Default None: 1.5 × the checkpoint (plus adapters) rounded up, room for a revision bump.")
    shm_size_gb: int | None = Field(default=None, ge=1, le=64, alias="shmSizeGb", description="/dev/shm (memory emptyDir) in GiB, added to the memory request/limit. Default None: 2 GiB per GPU (NCCL buffers for tensor parallelism).")
    startup_seconds: int | None = Field(default=None, ge=600, le=7200, alias="startupSeconds", description="Startup-probe budget for download-free model load. Default None: 600 s + 30 s per GiB of weights.")
    node_selector: Labels = Field(default_factory=dict, alias="nodeSelector", description="Extra node labels to require, beside the GPU product label (a required node affinity on the GPU label and its PCIe/NVL aliases). Default none.")
    cpu_request: CpuQuantity | None = Field(default=None, alias="cpuRequest", description="CPU request of the vllm container (Kubernetes quantity, e.g. 8 or 3500m). Default None: the sizing plan's (4 per GPU).")
    memory_request: MemoryQuantity | None = Field(default=None, alias="memoryRequest", description="Memory request of the vllm container, /dev/shm included (Kubernetes quantity, e.g. 24Gi). Default None: the sizing plan's host memory (4 GiB + half the weights) + shm.")
    memory_limit: MemoryQuantity | None = Field(default=None, alias="memoryLimit", description="Memory limit of the vllm container, /dev/shm included. Default None: the plan's limit (4 GiB + the weights) + shm. Must be >= the request and >= the plan's host-memory need + shm.")

    @field_validator("gpu", mode="before")
    @classmethod
    def _not_a_cpu_tier(cls, v: object) -> object:
        """A CPU tier here is a kind mistake, not a typo: say where CPU tiers go instead of 'did you mean'."""
        if isinstance(v, str) and v.lower() in {t.id for t in list_cpu_tiers()}:
            raise ValueError(f"{v} is a CPU tier; vLLM here serves on GPUs ({', '.join(g.id for g in list_gpus())}). "
                             "CPU tiers are for the other engines: ollama on a Docker host (docker.memoryGb) and "
                             "onnxEdge (hardwareTier)")
        return v

    @field_validator("model_cache")
    @classmethod
    def _shared_cache(cls, v: str | None) -> str | None:
        if v == "per-pod":
            raise ValueError("modelCache per-pod would make every serving pod download the model, and serving pods have no internet egress: use modelCache shared (a ReadWriteMany cache via cluster.rwxStorageClass when pods spread over nodes) or source.prefilledClaim")
        return v

    @field_validator("memory_request", "memory_limit")
    @classmethod
    def _memory(cls, v: str | None) -> str | None:
        if v is not None and parse_quantity(v) < _GiB:
            raise ValueError(f"{v!r} is below 1 GiB; a vLLM server needs several GiB of host memory, e.g. 16Gi")
        return v

    @model_validator(mode="after")
    def _rules(self) -> "VllmServiceArgs":
        spec = self.spec
        self._check_device()
        self._check_checkpoint(spec)
        if self.max_model_len is not None and self.max_model_len > spec.max_position_embeddings:
            raise ValueError(f"maxModelLen {self.max_model_len} is above {spec.id}'s maximum context of {spec.max_position_embeddings} tokens")
        if self.tool_calling and not spec.tool_call_parser:
            raise ValueError(f"toolCalling is on but vLLM has no known tool-call parser for {spec.id} (catalog tool_call_parser is empty); set toolCalling false or pick a model with a parser (phi-4-mini-instruct, qwen3-*, llama-3.2-*)")
        count, tp = self.gpu_count, self.tensor_parallel_size
        if count is not None and tp is not None and count % tp:
            raise ValueError(f"gpuCount {count} is not divisible by tensorParallelSize {tp}; use a tensorParallelSize that divides {count} (e.g. {', '.join(str(d) for d in range(1, count + 1) if count % d == 0)})")
        if (count or tp or 1) > GPU_COUNTS_ONE_NODE:
            raise ValueError(f"{count or tp} GPUs is more than one node ({GPU_COUNTS_ONE_NODE}); multi-node serving (LeaderWorkerSet) is not supported yet")
        if self.quantization == "fp16" and self.dtype == "bfloat16":
            raise ValueError("dtype bfloat16 contradicts quantization fp16; use dtype auto or float16")
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise ValueError(f"maxReplicas {self.max_replicas} is below replicas {self.replicas}")
        if self.scale_to_zero and not self.activation_query:
            raise ValueError("scaleToZero needs activationQuery: at 0 replicas vLLM exports no vllm:num_requests_waiting, so nothing would scale it back up")
        self._check_canary()
        names = [self.served_name] + [a.name for a in self.lora_adapters]
        if len(set(names)) != len(names):
            raise ValueError(f"served model names must be unique, got {', '.join(names)}")
        try:
            _ = self.plan
        except FitError as exc:
            raise ValueError(f"does not fit: {fit_in_stack_keys(exc.plan)}") from None
        self._check_memory()
        return self

    def _check_memory(self) -> None:
        request, limit = self.container_memory
        req_b, lim_b = parse_quantity(request), parse_quantity(limit)
        if lim_b < req_b:
            raise ValueError(f"memoryLimit {limit} is below the memory request {request}; set memoryLimit >= memoryRequest")
        need = parse_quantity(self.plan.memory_request) + self.shm_gib * _GiB
        if lim_b < need:
            raise ValueError(
                f"memoryLimit {limit} ({lim_b / _GiB:.1f} GiB) is below what the server needs on the host: "
                f"{self.plan.memory_request} (4 GiB + half of {self.plan.weights_bytes / _GiB:.1f} GiB of weights) "
                f"+ {self.shm_gib}Gi /dev/shm = {need / _GiB:.1f} GiB; raise memoryLimit or leave it unset")

    def _check_device(self) -> None:
        if self.device == "cpu":
            if self.image in _CUDA_IMAGES:
                raise ValueError(f"image {self.image} ({pinned_image(self.image).repository}) is a CUDA build and cannot serve device cpu; vLLM's CPU image is separate")
            raise ValueError("device cpu is not supported yet: components/versions.yaml pins no vLLM CPU image; use device cuda, or OllamaStack/OnnxEdgeNode for CPU serving")
        pinned_image(self.image)

    def _check_checkpoint(self, spec: ModelSpec) -> None:
        if self.hf_repo and not self.revision:
            raise ValueError(f"hfRepo {self.hf_repo} needs revision: a 40-hex commit sha")
        if self.quantization in ("awq", "gptq"):
            fmt = self.quantization.upper()
            an = "an" if fmt == "AWQ" else "a"
            if self.hf_repo:
                if self.quantization not in self.hf_repo.lower():
                    raise ValueError(f"quantization {self.quantization} needs {an} {fmt} checkpoint; hfRepo {self.hf_repo} is not named as one (expected '{fmt}' in the repo name)")
            elif self.quantization not in spec.prequantized:
                raise ValueError(f"quantization {self.quantization} needs {an} {fmt} checkpoint; {spec.hf_repo} is not quantized that way and the catalog has no {fmt} checkpoint for {spec.id} (offered: {', '.join(spec.vllm_quantizations)}); set hfRepo + revision to {an} {fmt} export")
        elif self.hf_repo and re.search(r"(awq|gptq)", self.hf_repo.lower()):
            raise ValueError(f"hfRepo {self.hf_repo} looks pre-quantized; set quantization to match it")
        if not self.checkpoint[1]:
            raise ValueError(f"the catalog pins no revision for {self.checkpoint[0]}; set revision to a 40-hex commit sha")

    # ------------------------------------------------------------------ derived
    @property
    def spec(self) -> ModelSpec:
        return get_model(self.model)

    def _check_canary(self) -> None:
        """Canary rules, each located at its key (the gateway requirement is the stack's: stacks/consistency.py)."""
        if self.canary is None and self.canary_revision is None:
            return
        if self.canary_revision is None:
            located([(("canary",), "a canary needs canaryRevision, the 40-hex commit sha its share of requests is "
                                   "served by; set canaryRevision or remove canary")])
        if self.canary is None:
            located([(("canaryRevision",), "canaryRevision needs canary, the percentage (0-100) of requests it "
                                           "serves; set canary or remove canaryRevision")])
        if self.canary_revision == self.checkpoint[1]:
            located([(("canaryRevision",), "canaryRevision is the stable revision already; a canary serves another "
                                           "revision (promote by setting revision and removing canary)")])
        if self.source.prefilled_claim:
            located([(("canary",), "a canary needs its own cache filled with canaryRevision, and source.prefilledClaim "
                                   "holds one revision; remove canary or use a download source")])
        if self.rollout == "blue-green":
            located([(("canary",), "canary and rollout blue-green are two ways to move traffic to a new revision; "
                                   "choose one")])

    def canary_args(self) -> "VllmServiceArgs":
        """These Args with canaryRevision as the revision (what the canary Deployment serves), validated again."""
        data = self.model_dump(by_alias=True, exclude={"canary", "canary_revision"})
        return type(self).model_validate({**data, "revision": self.canary_revision})

    @property
    def served_name(self) -> str:
        return self.served_model_name or self.model

    @property
    def max_replicas_resolved(self) -> int:
        return self.max_replicas or self.replicas

    @cached_property
    def plan(self) -> VllmPlan:
        """The sizing verdict (raises FitError with numbers and what would fit)."""
        return size_vllm(
            self.model, quantization=self.quantization, kv_cache_dtype=self.kv_cache_dtype,
            max_model_len=self.max_model_len, concurrency=self.concurrency, gpu=self.gpu,
            gpu_count=self.gpu_count, tensor_parallel_size=self.tensor_parallel_size,
            gpu_memory_utilization=self.gpu_memory_utilization,
        )

    @property
    def checkpoint(self) -> tuple[str, str | None]:
        """(repo, revision) the pod downloads and serves."""
        if self.hf_repo:
            return self.hf_repo, self.revision
        pre = self.spec.prequantized.get(self.quantization)
        if pre is not None:
            return pre.repo, self.revision or pre.revision
        return self.spec.hf_repo, self.revision or self.spec.hf_revision

    def engine_args(self, host: str = "127.0.0.1") -> list[str]:
        """The full ``vllm serve`` argument list (flags derived by sizing + Args). ``host`` is loopback behind
        the per-server auth proxy, the pod address behind a ModelGateway."""
        repo, rev = self.checkpoint
        args = ["--model", repo, "--revision", str(rev), "--served-model-name", self.served_name,
                "--host", host, "--port", str(VLLM_PORT)]
        args += self.plan.engine_args()
        if self.dtype != "auto" and "--dtype" not in args:
            args += ["--dtype", self.dtype]
        if self.tool_calling:
            args += ["--enable-auto-tool-choice", "--tool-call-parser", str(self.spec.tool_call_parser)]
            if self.spec.tool_chat_template:
                args += ["--chat-template", f"{VLLM_EXAMPLES_DIR}/{self.spec.tool_chat_template}"]
        if self.lora_adapters:
            args += ["--enable-lora", "--max-loras", str(len(self.lora_adapters)), "--max-lora-rank", str(self.max_lora_rank),
                     "--lora-modules", *[f"{a.name}={LORA_DIR}/{a.name}" for a in self.lora_adapters]]
        return args + list(self.extra_args)

    def prometheus_server(self, ctx: StackContext) -> str:
        """The Prometheus the KEDA trigger queries: ``prometheusUrl``, else the stack's, else the default Service."""
        url = self.prometheus_url if "prometheus_url" in self.model_fields_set or ctx.prometheus is None else ctx.prometheus.url
        return url or f"http://prometheus.{ctx.namespace}.svc.cluster.local:9090"

    def scraper(self, ctx: StackContext) -> Peer:
        """The Prometheus pods admitted to the metrics port: ``prometheusPodLabels`` in ``prometheusNamespaceLabels``
        (when set), else in the stack Prometheus' namespace."""
        if "prometheus_namespace_labels" in self.model_fields_set or ctx.prometheus is None:
            return Peer(self.prometheus_pod_labels, self.prometheus_namespace_labels)
        return Peer(self.prometheus_pod_labels, ctx.prometheus.namespace_labels)

    @property
    def download_patterns(self) -> list[str]:
        """``hf download --include`` patterns: the catalog's, else the default; ``*.py`` only with remote code."""
        patterns = list(self.spec.download_patterns or DEFAULT_DOWNLOAD_PATTERNS)
        if "--trust-remote-code" in self.extra_args and "*.py" not in patterns:
            patterns.append("*.py")
        return patterns

    @property
    def container_cpu(self) -> str:
        return self.cpu_request or self.plan.cpu_request

    @property
    def container_memory(self) -> tuple[str, str]:
        """(request, limit) of the vllm container, /dev/shm included."""
        shm = self.shm_gib * _GiB
        request = self.memory_request or _gi_str(parse_quantity(self.plan.memory_request) + shm)
        limit = self.memory_limit or _gi_str(parse_quantity(self.plan.memory_limit) + shm)
        return request, limit

    @property
    def gpus(self) -> int:
        return self.plan.gpu_count

    @property
    def shm_gib(self) -> int:
        return self.shm_size_gb or 2 * self.gpus

    @property
    def cache_gib(self) -> int:
        """1.5 × what the download step fetches: the safetensors (the --include patterns skip other weight
        formats) + 1 GiB per adapter; the configs/tokenizer files are MiBs, inside the 0.5 × headroom."""
        if self.cache_size_gb:
            return self.cache_size_gb
        size = checkpoint_bytes(self.spec) if self.quantization not in ("awq", "gptq") else self.plan.weights_bytes
        size += len(self.lora_adapters) * _GiB
        return max(1, -(-int(size * 1.5) // _GiB))

    @property
    def startup_budget(self) -> int:
        return self.startup_seconds or 600 + 30 * -(-self.plan.weights_bytes // _GiB)


def _gi_str(n: float) -> str:
    """Bytes rounded up to whole Gi ("14Gi")."""
    return f"{max(1, -(-int(n) // _GiB))}Gi"
