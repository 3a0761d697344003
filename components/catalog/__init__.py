"""Typed model, quantization and hardware catalog.

The data lives in the YAML files next to this module (each number carries its source there).
They are parsed once into pydantic models and cached; every lookup by id raises
:class:`UnknownCatalogId` (a ``ValueError``) listing the allowed ids and the closest match.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CATALOG_DIR",
    "Checkpoint",
    "CpuTier",
    "GpuSpec",
    "ModelSpec",
    "OnnxSpec",
    "QuantSpec",
    "UnknownCatalogId",
    "get_cpu_tier",
    "get_gpu",
    "get_model",
    "get_quant",
    "ggml_type_bits",
    "list_cpu_tiers",
    "list_gpus",
    "list_models",
    "list_quants",
    "param_class_for",
]

CATALOG_DIR = Path(__file__).parent
GiB = 1024**3
MiB = 1024**2

ParamClass = Literal["micro", "small", "medium"]
_HEX40 = r"^[0-9a-f]{40}$"


class UnknownCatalogId(ValueError):
    """An id that is not in the catalog. The message lists the allowed ids and a suggestion."""

    def __init__(self, kind: str, given: str, allowed: list[str]) -> None:
        self.kind = kind
        self.given = given
        self.allowed = allowed
        close = difflib.get_close_matches(given.lower(), allowed, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"unknown {kind} {given!r}.{hint} Allowed: {', '.join(allowed)}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def param_class_for(params: int) -> ParamClass:
    """Parameter class: micro < 1.5B <= small < 14B <= medium <= 30B (docs/facts.md, "Model sizes and classes")."""
    if params < 1_500_000_000:
        return "micro"
    if params < 14_000_000_000:
        return "small"
    if params <= 30_000_000_000:
        return "medium"
    raise ValueError(f"{params} parameters is above the 30B small-language-model range")


class Checkpoint(_Frozen):
    """A Hugging Face checkpoint (repo + optional pinned commit)."""

    repo: str
    revision: str | None = Field(default=None, pattern=_HEX40)


class OnnxSpec(_Frozen):
    """Published ONNX Runtime GenAI export: repo, pinned revision, subfolder per variant id."""

    repo: str
    revision: str | None = Field(default=None, pattern=_HEX40)
    revision_source: str | None = None
    variants: dict[str, str]


class ModelSpec(_Frozen):
    """One catalog model. Architecture fields mirror config.json (text_config for Gemma 3 4B+)."""

    id: str
    display_name: str
    family: str
    params: int = Field(gt=0, description="Published total parameters (vision tower included).")
    params_source: str
    param_class: ParamClass
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    tied_embeddings: bool
    checkpoint_untied_lm_head: bool = False
    sliding_window: int | None = None
    vision_params: int = 0
    hf_repo: str
    hf_revision: str | None = Field(default=None, pattern=_HEX40)
    revision_source: str | None = None
    ollama_tag: str | None = None
    ollama_quantizations: list[str] = []
    vllm_quantizations: list[str] = []
    prequantized: dict[str, Checkpoint] = {}
    onnx: OnnxSpec | None = None
    tool_call_parser: str | None = None
    tool_chat_template: str | None = Field(default=None, description=(
        "File name of the vLLM tool chat template in the vllm-openai image's examples directory "
        "(/vllm-workspace/examples), passed as --chat-template with tool calling. None: the checkpoint's own template."))
    download_patterns: list[str] = Field(default=[], description=(
        "hf download --include patterns for the vLLM checkpoint. Empty: the component default (safetensors, "
        "JSON configs, tokenizer files), which skips e.g. Meta's original/*.pth duplicates."))
    gated: bool
    license: str
    source: str

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        expected = param_class_for(self.params)
        if expected != self.param_class:
            raise ValueError(f"{self.id}: param_class {self.param_class} but {self.params} params is {expected}")
        if self.attention_heads % self.kv_heads:
            raise ValueError(f"{self.id}: attention_heads must be a multiple of kv_heads")
        if self.hf_revision and not self.revision_source:
            raise ValueError(f"{self.id}: a pinned hf_revision needs a revision_source")
        return self

    # -- derived architecture numbers -------------------------------------------------
    @property
    def embedding_params(self) -> int:
        """vocab_size × hidden_size (one copy)."""
        return self.vocab_size * self.hidden_size

    @property
    def layer_params(self) -> int:
        """Matrix parameters of one decoder layer: q, k, v, o projections + gated MLP (3 matrices)."""
        h, hd = self.hidden_size, self.head_dim
        attn = h * hd * (2 * self.attention_heads + 2 * self.kv_heads)
        mlp = 3 * h * self.intermediate_size
        return attn + mlp

    @property
    def text_params(self) -> int:
        """Text-stack parameters from the architecture: embeddings (+ lm_head when untied) + layers.

        Norm weights (a few × hidden per layer) are left out; they are < 0.1 % of any catalog model.
        """
        heads = 1 if self.tied_embeddings else 2
        return heads * self.embedding_params + self.layers * self.layer_params

    @property
    def kv_bytes_per_token_fp16(self) -> int:
        """2 (K and V) × layers × kv_heads × head_dim × 2 bytes."""
        return 2 * self.layers * self.kv_heads * self.head_dim * 2


class GpuSpec(_Frozen):
    """A GPU model with its usable memory and its GPU-feature-discovery node label."""

    id: str
    display_name: str
    memory_mib: int = Field(gt=0)
    node_label_value: str
    node_label_aliases: list[str] = []
    compute_capability: str
    fp8: bool
    memory_bandwidth_gbs: float | None = Field(default=None, gt=0)
    """Peak device-memory bandwidth in GB/s (NVIDIA datasheet): the benchmark's roofline prediction."""

    @property
    def memory_bytes(self) -> int:
        """Total device memory as reported by nvidia-smi, in bytes."""
        return self.memory_mib * MiB

    @property
    def node_label_key(self) -> str:
        return "nvidia.com/gpu.product"


class CpuTier(_Frozen):
    """A CPU / edge host class by installed RAM."""

    id: str
    display_name: str
    memory_gib: int = Field(gt=0)
    cpus: int = Field(gt=0)

    @property
    def memory_bytes(self) -> int:
        return self.memory_gib * GiB

    @property
    def reserved_bytes(self) -> int:
        """GKE kube-reserved memory: 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8,
        6% of the next 112, plus the 100 MiB hard-eviction threshold."""
        remaining = self.memory_bytes
        reserved = 0.0
        for size, share in ((4 * GiB, 0.25), (4 * GiB, 0.20), (8 * GiB, 0.10), (112 * GiB, 0.06)):
            part = min(remaining, size)
            reserved += part * share
            remaining -= part
        return int(reserved) + 100 * MiB

    @property
    def allocatable_bytes(self) -> int:
        return self.memory_bytes - self.reserved_bytes


class QuantSpec(_Frozen):
    """A weight format for one engine (gguf = Ollama/llama.cpp, vllm, onnx)."""

    id: str
    engine: Literal["gguf", "vllm", "onnx"]
    bits_per_weight: float = Field(gt=0)
    source: str
    base_type: str | None = None
    mix: str | None = None
    vllm_dtype: str | None = None
    vllm_quantization: str | None = None
    requires_fp8_gpu: bool = False
    needs_prequantized_checkpoint: bool = False
    linear_only: bool = False
    device: Literal["cpu", "gpu"] | None = None
    embedding_bytes: int | None = None
    kv_bytes: int | None = None


class _Catalog(_Frozen):
    models: dict[str, ModelSpec]
    quants: dict[str, QuantSpec]
    ggml_bits: dict[str, float]
    gpus: dict[str, GpuSpec]
    cpu_tiers: dict[str, CpuTier]


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it (the pure-Python one took ~0.1 s of every process's first stack load;
tests/components/test_catalog.py checks both give the same data for these files)."""


def _read(name: str) -> dict:
    with (CATALOG_DIR / name).open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_LOADER)


def _index(items: list, kind: str) -> dict:
    out: dict = {}
    for item in items:
        if item.id in out:
            raise ValueError(f"duplicate {kind} id {item.id!r} in the catalog")
        out[item.id] = item
    return out


@cache
def _catalog() -> _Catalog:
    """Load and validate the three YAML files once."""
    models = _read("models.yaml")["models"]
    quant_data = _read("quantizations.yaml")
    hardware = _read("hardware.yaml")
    ggml_bits = {k: v["bytes"] * 8 / v["block"] for k, v in quant_data["ggml_types"].items()}
    catalog = _Catalog(
        models=_index([ModelSpec(**m) for m in models], "model"),
        quants=_index([QuantSpec(**q) for q in quant_data["quantizations"]], "quantization"),
        ggml_bits=ggml_bits,
        gpus=_index([GpuSpec(**g) for g in hardware["gpus"]], "gpu"),
        cpu_tiers=_index([CpuTier(**c) for c in hardware["cpu_tiers"]], "cpu tier"),
    )
    _check_references(catalog)
    return catalog


def _check_references(catalog: _Catalog) -> None:
    """Every quantization a model lists must exist for its engine; AWQ/GPTQ need a checkpoint."""
    for model in catalog.models.values():
        for engine, ids in (("gguf", model.ollama_quantizations), ("vllm", model.vllm_quantizations)):
            for qid in ids:
                quant = catalog.quants.get(qid)
                if quant is None or quant.engine != engine:
                    raise ValueError(f"{model.id}: {qid!r} is not a known {engine} quantization")
                if quant.needs_prequantized_checkpoint and qid not in model.prequantized:
                    raise ValueError(f"{model.id}: {qid} listed without a pre-quantized checkpoint")
        if model.onnx:
            for variant in model.onnx.variants:
                if variant not in catalog.quants or catalog.quants[variant].engine != "onnx":
                    raise ValueError(f"{model.id}: unknown ONNX variant {variant!r}")


def _lookup(table: dict, kind: str, key: str):
    if isinstance(key, str) and key in table:
        return table[key]
    if isinstance(key, str):
        # Case-insensitive match ("Q4_K_M" vs "q4_k_m", "Qwen3-8B" vs "qwen3-8b").
        for k, v in table.items():
            if k.lower() == key.lower():
                return v
    raise UnknownCatalogId(kind, str(key), list(table))


def get_model(model_id: str) -> ModelSpec:
    """The catalog model with this id (case-insensitive), else :class:`UnknownCatalogId`."""
    return _lookup(_catalog().models, "model", model_id)


def list_models() -> list[ModelSpec]:
    """All models, smallest first."""
    return sorted(_catalog().models.values(), key=lambda m: (m.params, m.id))


def get_gpu(gpu_id: str) -> GpuSpec:
    """The GPU with this id, else :class:`UnknownCatalogId`."""
    return _lookup(_catalog().gpus, "gpu", gpu_id)


def list_gpus() -> list[GpuSpec]:
    """All GPUs, smallest memory first."""
    return sorted(_catalog().gpus.values(), key=lambda g: (g.memory_mib, g.id))


def get_quant(quant_id: str) -> QuantSpec:
    """The quantization with this id (case-insensitive), else :class:`UnknownCatalogId`."""
    return _lookup(_catalog().quants, "quantization", quant_id)


def list_quants(engine: str | None = None) -> list[QuantSpec]:
    """All quantizations, optionally only one engine's ("gguf", "vllm", "onnx")."""
    return [q for q in _catalog().quants.values() if engine is None or q.engine == engine]


def get_cpu_tier(tier_id: str) -> CpuTier:
    """The CPU/edge tier with this id (cpu-4gb, cpu-8gb, cpu-16gb, cpu-32gb)."""
    return _lookup(_catalog().cpu_tiers, "cpu tier", tier_id)


def list_cpu_tiers() -> list[CpuTier]:
    return sorted(_catalog().cpu_tiers.values(), key=lambda c: c.memory_gib)


def ggml_type_bits(type_name: str) -> float:
    """Bits per weight of one ggml tensor type (block bytes × 8 / block size, from ggml-common.h)."""
    return _lookup(_catalog().ggml_bits, "ggml type", type_name)
