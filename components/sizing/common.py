"""Sizing shared by every engine: units, the fit error, checkpoint and KV-cache bytes, host memory plans."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

from components.catalog import (
    ModelSpec,
    QuantSpec,
    get_model,
    get_quant,
    list_cpu_tiers,
)

GiB = 1024**3
MiB = 1024**2

RUNTIME_BASE_BYTES = 512 * MiB  # Ollama / ONNX process, allocator slack
LIMIT_HEADROOM = 1.25  # memory limit = 1.25 × estimated total for CPU engines


class FitError(ValueError):
    """A configuration that does not fit. The message has the numbers and what would fit (``plan``: the
    VllmPlan or MemoryPlan that did not fit)."""

    def __init__(self, message: str, *, needed_bytes: int, available_bytes: int,
                 suggestions: list[str], plan: object | None = None) -> None:
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        self.suggestions = suggestions
        self.plan = plan



@dataclass(frozen=True)
class Fix:
    """One change that alone would make a configuration fit, in the sizing model's own terms.

    ``setting`` is one of :data:`ENGINE_FIXES`; ``text`` words it as the engine does (what ``size`` prints).
    Whoever shows a fit problem words the same fix in the keys its reader writes: a stack file's keys
    (``maxModelLen: 4096``), new-stack's questions (``context_length 4096``); see :func:`worded`.
    """

    setting: str
    value: str
    label: str
    """What kind of change, e.g. "a shorter context"."""
    text: str


ENGINE_FIXES = {
    "vllm": frozenset({"context", "concurrency", "gpu_count", "quantization", "kv_cache", "gpu"}),
    "ollama": frozenset({"context", "concurrency", "quantization", "kv_cache", "host", "max_loaded"}),
    "onnx": frozenset({"context", "concurrency", "host"}),
}
"""The fix settings each engine's suggestions use (besides ``model``: a smaller model, no value).
context: tokens per sequence; concurrency: sequences at once; gpu_count: GPUs per pod (tensor parallel
alike); quantization: weight format; kv_cache: KV-cache dtype; gpu: GPU type id; host: CPU tier id of a
bigger host; max_loaded: models kept loaded at once (Ollama)."""

Wording = Mapping[str, "str | Callable[[Fix], str]"]
"""Per fix setting: a template (``{value}``) or a function giving the key and value a reader writes.
A setting the reader cannot change (missing) is left out."""


def worded(fixes: tuple[Fix, ...] | list[Fix], words: Wording) -> list[str]:
    """``label: <the change in the reader's keys>`` per fix the reader can make."""
    lines = []
    for fix in fixes:
        word = words.get(fix.setting)
        if fix.setting == "model":
            lines.append(fix.text)
        elif word is not None:
            lines.append(f"{fix.label}: {word(fix) if callable(word) else word.format(value=fix.value)}")
    return lines


def fit_message(head: str, plan, at: str, where: str, fixes: list[str]) -> str:
    """The one fit message every engine and every reader shares: needed (weights + KV at ``at`` + overhead)
    versus available on ``where``, then what would fit (``fixes``, already worded for the reader)."""
    return (f"{head} needs {gib(plan.weights_bytes)} of weights + {gib(plan.kv_cache_bytes)} KV at {at}"
            f" + {gib(plan.overhead_bytes)} overhead = {gib(plan.total_bytes)}; {where}."
            " What would fit: " + "; ".join(fixes or ["nothing in the catalog; use a smaller model"]))


# --------------------------------------------------------------------------- helpers
def gib(n: float) -> str:
    """Format bytes as GiB with one decimal."""
    return f"{n / GiB:.1f} GiB"


def k8s_quantity(n: int) -> str:
    """Round bytes up to a whole Gi quantity ("16Gi")."""
    return f"{max(1, math.ceil(n / GiB))}Gi"


def quantity_bytes(n: int) -> int:
    return max(1, math.ceil(n / GiB)) * GiB


def model_spec(model: str | ModelSpec) -> ModelSpec:
    return model if isinstance(model, ModelSpec) else get_model(model)


def quant_spec(quant_id: str, engine: str, model: ModelSpec, offered: list[str] | None) -> QuantSpec:
    quant = get_quant(quant_id)
    if quant.engine != engine:
        raise ValueError(f"{quant.id} is a {quant.engine} format, not a {engine} one")
    if offered is not None and quant.id not in offered:
        raise ValueError(f"{model.id} offers {engine} quantizations {', '.join(offered)}; not {quant.id}")
    return quant


def kv_cache_bytes(model: ModelSpec, tokens: int, sequences: int, bytes_per_value: float,
                   kv_heads: int | None = None) -> int:
    """2 × layers × kv_heads × head_dim × bytes × tokens × sequences."""
    heads = model.kv_heads if kv_heads is None else kv_heads
    return math.ceil(2 * model.layers * heads * model.head_dim * bytes_per_value * tokens * sequences)


def checkpoint_bytes(model: str | ModelSpec) -> int:
    """Size of the published bf16 safetensors: every stored tensor × 2 bytes (a duplicated lm_head
    counts when the checkpoint stores it although config.json ties it)."""
    m = model_spec(model)
    extra = m.embedding_params if m.checkpoint_untied_lm_head else 0
    return 2 * (m.text_params + m.vision_params + extra)


def linear_params(m: ModelSpec) -> int:
    return m.layers * m.layer_params


def head_params(m: ModelSpec) -> int:
    """Embedding table + untied lm_head."""
    return m.text_params - linear_params(m)



@dataclass(frozen=True)
class MemoryPlan:
    """Sizing result for a CPU/host-memory engine (Ollama or ONNX Runtime GenAI)."""

    engine: Literal["ollama", "onnx"]
    model: str
    quantization: str
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    total_bytes: int
    available_bytes: int | None
    fits: bool
    memory_request: str
    memory_limit: str
    memory_limit_bytes: int
    cpu_request: str
    concurrency: int
    num_ctx: int | None = None
    num_parallel: int | None = None
    max_length: int | None = None
    kv_cache_type: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    suggestions: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = ()
    """The suggestions as :class:`Fix` records (``suggestions`` is their engine wording)."""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["suggestions"] = list(self.suggestions)
        return data


# --------------------------------------------------------------------------- vLLM

def cpu_request_for(m: ModelSpec) -> str:
    return {"micro": "2", "small": "4", "medium": "8"}[m.param_class]


def memory_plan(engine: Literal["ollama", "onnx"], m: ModelSpec, quant: str, weights: int, kv: int,
                 overhead: int, available: int | None, concurrency: int, **settings) -> MemoryPlan:
    total = weights + kv + overhead
    limit = quantity_bytes(math.ceil(total * LIMIT_HEADROOM))
    engine_settings = {k: str(v) for k, v in settings.items() if v is not None}
    return MemoryPlan(
        engine=engine, model=m.id, quantization=quant, weights_bytes=weights, kv_cache_bytes=kv,
        overhead_bytes=overhead, total_bytes=total, available_bytes=available,
        fits=available is None or total <= available, memory_request=k8s_quantity(total),
        memory_limit=k8s_quantity(limit), memory_limit_bytes=limit, cpu_request=cpu_request_for(m),
        concurrency=concurrency, settings=engine_settings, **settings,
    )


def fit_on_host(model: str | ModelSpec, plan: MemoryPlan, what: str, host_memory_bytes: int | None) -> MemoryPlan:
    """``plan`` (a CPU engine's, sized for ``host_memory_bytes``) when it fits, else :class:`FitError` saying what
    the host has and the plan's suggestions; ``what`` names the sized load in the message (e.g. ``"4096 × 2"``)."""
    if plan.fits:
        return plan
    suggestions = list(plan.suggestions)
    message = fit_message(f"{model_spec(model).display_name} {plan.quantization}", plan, what,
                          f"the host has {gib(plan.available_bytes or 0)} allocatable", suggestions)
    raise FitError(message, needed_bytes=plan.total_bytes, available_bytes=host_memory_bytes or 0,
                   suggestions=suggestions, plan=plan)


def with_fixes(plan, fixes: list[Fix]):
    """``plan`` carrying ``fixes`` and their engine wording as ``suggestions``."""
    from dataclasses import replace

    return replace(plan, fixes=tuple(fixes), suggestions=tuple(f.text for f in fixes))


def bigger_tier(total: int, available: int, *, installed: bool = False) -> Fix | None:
    """The smallest CPU tier bigger than ``available`` that holds ``total``: by its allocatable memory (an
    edge box or node keeps room for its OS), or its ``installed`` memory (Ollama on a Docker host, sized
    against docker.memoryGb: the same rule as ``size --engine ollama``)."""
    for tier in list_cpu_tiers():
        room = tier.memory_bytes if installed else tier.allocatable_bytes
        if room > available and room >= total:
            what = "installed" if installed else "allocatable"
            return Fix("host", tier.id, "a bigger host", f"a bigger host: {tier.id} ({gib(room)} {what})")
    return None


