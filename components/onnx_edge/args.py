"""OnnxEdgeNodeArgs: the inputs of :class:`components.onnx_edge.OnnxEdgeNode`, and its image build context."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.base import ArgsModel
from components.catalog import ModelSpec, get_cpu_tier, get_model, get_quant, list_models
from components.gateway.args import GatewayClient
from components.gateway.named_clients import client_problems, single_proxy_clients
from components.hardening import DEFAULT_UID
from components.onnx_edge.constants import (
    API_KEY_FILE,
    EDGE_POOL_LABEL,
    EDGE_TAINT_KEY,
    MODELS_DIR,
    SERVER_DIR,
    SERVER_PORT,
    START_BUDGET_SECONDS,
)
from components.sizing import MemoryPlan, report_onnx, worded
from components.sizing.common import fit_message, gib
from components.templating import render_template
from components.validation import CatalogModelId, CpuTierId, DigestImageRef, DnsLabel, HostPort, IpAddress, LabelValue, located
from components.versions import image as pinned_image

__all__ = ["OnnxEdgeNodeArgs", "image_context_files"]

_HARDWARE_FOR_EP = {
    "cuda": ("nvidia-gpu",),
    "openvino": ("intel-gpu", "intel-npu"),
    "qnn": ("qualcomm-npu",),
}


# What would fit, in stack-file keys (the sizing model speaks onnxruntime-genai's max_length and tier ids).
STACK_WORDS = {"context": "maxLength: {value}", "concurrency": "concurrency: {value}", "host": "hardwareTier: {value}"}

class OnnxEdgeNodeArgs(ArgsModel):
    """One ONNX Runtime GenAI server on an edge box or a k3s edge pool."""

    name: DnsLabel = Field(description="Name of the server (container / Deployment / Service name, DNS-1123 label). Required.")
    model: CatalogModelId = Field(description="Catalog model id with a published ONNX export (components/catalog/models.yaml `onnx:`), e.g. phi-4-mini-instruct. Required.")
    target: Literal["docker", "kubernetes"] = Field(default="docker", description="docker: one edge box through pulumi-docker; kubernetes: k3s edge nodes. Default docker, the common edge case; must match the stack's target.")
    variant: str = Field(default="cpu-int4", description="ONNX export variant of the model (e.g. cpu-int4, gpu-int4). Default cpu-int4: runs on any x86_64/aarch64 CPU with the smallest memory footprint.")
    execution_provider: Literal["cpu", "cuda", "openvino", "qnn"] = Field(default="cpu", alias="executionProvider", description="onnxruntime-genai execution provider. Default cpu: needs no accelerator and matches the generated image (CPU onnxruntime-genai).")
    accelerator: Literal["none", "nvidia-gpu", "intel-gpu", "intel-npu", "qualcomm-npu"] = Field(default="none", description="Accelerator present on the edge hardware; cuda needs nvidia-gpu, openvino intel-gpu/intel-npu, qnn qualcomm-npu. Default none (CPU only).")
    hardware_tier: CpuTierId = Field(default="cpu-8gb", alias="hardwareTier", description="Edge hardware tier from components/catalog/hardware.yaml (cpu-4gb, cpu-8gb, cpu-16gb, cpu-32gb) for the fit check. Default cpu-8gb, a common edge box.")
    max_length: int = Field(default=4096, ge=256, alias="maxLength", description="Cap on prompt + completion tokens (onnxruntime-genai max_length; the KV cache is sized by it). Default 4096: enough for chat, far below the model's full context (131072 for Phi-4-mini), which would not fit an edge box.")
    concurrency: int = Field(default=1, ge=1, le=16, description="Generations running at once (each holds a KV cache of max_length). Default 1: edge CPUs are saturated by one generation.")
    max_queue: int = Field(default=8, ge=0, le=1024, alias="maxQueue", description="Requests waiting for a free slot before the server answers 503 (queue_full). Default 8.")
    publish_address: IpAddress = Field(default="127.0.0.1", alias="publishAddress", description="Host address the docker target publishes the port on. Default 127.0.0.1 (reach it through an SSH tunnel or a reverse proxy). 0.0.0.0 is allowed because the server authenticates every /v1 request itself; /health and /ready stay open.")
    port: HostPort = Field(default=SERVER_PORT, description="Host port (docker target). Default 8000.")
    platform: Literal["linux/amd64", "linux/arm64"] = Field(default="linux/amd64", description="Image platform built on the edge box (docker target). Default linux/amd64; arm64 boards (Jetson, Raspberry Pi 5, Ampere) need linux/arm64.")
    image: DigestImageRef | None = Field(default=None, description="Prebuilt server image by digest (repo@sha256:...), built by CI from the generated Dockerfile. Default None: the docker target builds the image on the edge box. Required for kubernetes (nodes pull from a registry) and for non-cpu execution providers (the generated image is the CPU build).")
    edge_pool: LabelValue = Field(default="edge", alias="edgePool", description=f"kubernetes: value of the node label {EDGE_POOL_LABEL} selecting the edge nodes (pods also tolerate the {EDGE_TAINT_KEY} taint). Default edge.")
    storage_gb: int | None = Field(default=None, ge=1, alias="storageGb", description="kubernetes: size of the model PVC in GB. Default None: 1.5 × the variant's weights, rounded up.")
    api_clients: list[GatewayClient] = Field(default_factory=list, alias="apiClients", description="Named clients in the model gateway's client shape (name, models: this node's model id, rpm, concurrency, burst), enforced by an nginx + njs proxy in front of the server, as Ollama's apiClients: keys per client from the clientKeys secret (`pulumi config set --secret --path 'clientKeys.<client>' KEY`) or generated, stored as a secret file of SHA-256 hashes, compared exactly; 401 for a wrong key, 403 for a model outside the client's list, 429 with Retry-After over a limit; the OpenAI routes only. The proxy presents the server's own key (apiKey) upstream, never the client's. Docker: the proxy publishes `port` and the server is on an internal network only; kubernetes: a sidecar on port 8080 (`http-auth`), the only port namespace pods are admitted on (docs/onnx-edge.md). Default none: clients use the server's single key.")

    @field_validator("model")
    @classmethod
    def _onnx_model(cls, value: str) -> str:
        spec = get_model(value)  # a catalog id already (CatalogModelId)
        if spec.onnx is None:
            raise ValueError(f"model {value!r} has no ONNX export in the catalog; models with one: {', '.join(_onnx_models())}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OnnxEdgeNodeArgs:
        spec = get_model(self.model)
        variants = spec.onnx.variants  # type: ignore[union-attr]
        if self.variant not in variants:
            raise ValueError(f"variant {self.variant!r} is not published for {self.model}; allowed: {', '.join(variants)}")
        device = get_quant(self.variant).device
        if device == "gpu" and self.execution_provider != "cuda":
            raise ValueError(f"variant {self.variant} is a GPU export and needs executionProvider cuda (with accelerator nvidia-gpu); "
                             f"got executionProvider {self.execution_provider}; on a CPU use a cpu variant")
        if device == "cpu" and self.execution_provider == "cuda":
            raise ValueError(f"executionProvider cuda needs a GPU variant; {self.variant} is a CPU export "
                             f"(GPU variants of {self.model}: {', '.join(v for v in variants if get_quant(v).device == 'gpu') or 'none'})")
        needed = _HARDWARE_FOR_EP.get(self.execution_provider)
        if needed and self.accelerator not in needed:
            raise ValueError(f"executionProvider {self.execution_provider} needs accelerator {' or '.join(needed)}; "
                             f"got accelerator {self.accelerator}; without that hardware use executionProvider cpu")
        if self.execution_provider != "cpu" and self.image is None:
            raise ValueError(f"executionProvider {self.execution_provider} needs `image`: the generated image is the CPU build of "
                             "onnxruntime-genai; give an image (repo@sha256:...) with the matching build (e.g. onnxruntime-genai-cuda)")
        if self.target == "kubernetes" and self.image is None:
            raise ValueError("target kubernetes needs `image`: k3s nodes pull from a registry; build "
                             "build/<stack>/files/<name>/Dockerfile in CI, push it and give repo@sha256:<digest>")
        if self.max_length > spec.max_position_embeddings:
            raise ValueError(f"maxLength {self.max_length} is above {self.model}'s maximum of {spec.max_position_embeddings} tokens")
        self.plan()  # the fit check: a ValueError with the numbers and what would fit, in stack keys
        located([(("apiClients", *loc), message) for loc, message in client_problems(self.api_clients, [self.model])])
        return self

    # -- derived -------------------------------------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        return get_model(self.model)

    def plan(self) -> MemoryPlan:
        """Memory plan on the hardware tier (ValueError with numbers and what would fit when it does not)."""
        tier = get_cpu_tier(self.hardware_tier)
        plan = report_onnx(self.model, variant=self.variant, max_length=self.max_length,
                           concurrency=self.concurrency, host_memory_bytes=tier.allocatable_bytes)
        if not plan.fits:  # in stack-file keys: the sizing model speaks onnxruntime-genai's max_length
            raise ValueError(f"does not fit {tier.id}: " + fit_message(
                f"{self.spec.display_name} {plan.quantization}", plan,
                f"maxLength {self.max_length} × concurrency {self.concurrency}",
                f"hardwareTier {tier.id} has {gib(tier.allocatable_bytes)} allocatable",
                worded(plan.fixes, STACK_WORDS)))
        return plan

    @property
    def subfolder(self) -> str:
        return self.spec.onnx.variants[self.variant]  # type: ignore[union-attr]

    @property
    def model_dir(self) -> str:
        return f"{MODELS_DIR}/{self.model}/{self.subfolder}"

    def download_argv(self) -> list[str]:
        """``hf download <repo> --revision <sha> --include '<variant>/*' --local-dir /models/<model>``."""
        onnx = self.spec.onnx
        assert onnx is not None and onnx.revision, f"{self.model}: the catalog must pin the ONNX revision"
        return ["hf", "download", onnx.repo, "--revision", onnx.revision, "--include", f"{self.subfolder}/*",
                "--local-dir", f"{MODELS_DIR}/{self.model}"]

    def proxy_clients(self) -> list[GatewayClient]:
        """The named-client proxy's clients: ``apiClients`` (plus the smoke Job's ``slm-verify`` on kubernetes);
        empty without ``apiClients`` (no proxy)."""
        return single_proxy_clients(self.api_clients, [self.model], self.target)

    def server_env(self) -> dict[str, str]:
        return {
            "SLM_MODEL_DIR": self.model_dir,
            "SLM_MODEL_ID": self.model,
            "SLM_API_KEY_FILE": API_KEY_FILE,
            "SLM_MAX_LENGTH": str(self.max_length),
            "SLM_CONCURRENCY": str(self.concurrency),
            "SLM_MAX_QUEUE": str(self.max_queue),
            "SLM_EXECUTION_PROVIDER": self.execution_provider,
            "SLM_PORT": str(SERVER_PORT),
        }


def _onnx_models() -> list[str]:
    return [m.id for m in list_models() if m.onnx is not None]


def image_context_files(args: OnnxEdgeNodeArgs) -> dict[str, str]:
    """The image build context: rendered Dockerfile, the server and its hash-locked requirements."""
    dockerfile = render_template(
        "onnx-edge.Dockerfile.j2",
        base_image=pinned_image("python-slim").ref,
        uid=DEFAULT_UID,
        port=SERVER_PORT,
        start_period_seconds=START_BUDGET_SECONDS,
        model_id=args.model,
        variant=args.variant,
    )
    return {
        "Dockerfile": dockerfile,
        "requirements.txt": (SERVER_DIR / "requirements.txt").read_text(),
        "server.py": (SERVER_DIR / "server.py").read_text(),
    }
