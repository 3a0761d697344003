"""ONNX Runtime GenAI sizing: int4 weights, KV cache, prefill activations, fit."""

from __future__ import annotations

import math

from components.catalog import ModelSpec
from components.sizing.common import (
    RUNTIME_BASE_BYTES,
    Fix,
    MemoryPlan,
    bigger_tier,
    fit_on_host,
    kv_cache_bytes,
    linear_params,
    memory_plan,
    model_spec,
    quant_spec,
    with_fixes,
)

ONNX_PREFILL_TOKENS = 1024


def onnx_weights_bytes(model: str | ModelSpec, variant: str = "cpu-int4") -> int:
    """ONNX int4 export: (linear + lm_head) × bits/8 + embedding table × float bytes (text only)."""
    m = model_spec(model)
    q = quant_spec(variant, "onnx", m, None)
    quantized = (linear_params(m) + m.embedding_params) * q.bits_per_weight / 8
    return math.ceil(quantized + m.embedding_params * (q.embedding_bytes or 4))


# --------------------------------------------------------------------------- plans

def report_onnx(model: str | ModelSpec, *, variant: str = "cpu-int4", max_length: int = 4096,
                concurrency: int = 1, host_memory_bytes: int | None = None) -> MemoryPlan:
    """ONNX Runtime GenAI memory: int4 weights + KV (max_length × concurrency) + runtime."""
    m = model_spec(model)
    q = quant_spec(variant, "onnx", m, None)
    if max_length > m.max_position_embeddings:
        raise ValueError(f"max_length {max_length} is above {m.id}'s maximum of {m.max_position_embeddings}")
    if max_length < 1 or concurrency < 1:
        raise ValueError("max_length and concurrency must be >= 1")
    weights = onnx_weights_bytes(m, q.id)
    kv = kv_cache_bytes(m, max_length, concurrency, q.kv_bytes or 4)
    prefill = min(max_length, ONNX_PREFILL_TOKENS)
    activations = prefill * (m.vocab_size + m.hidden_size + m.intermediate_size) * 4
    plan = memory_plan("onnx", m, q.id, weights, kv, RUNTIME_BASE_BYTES + activations, host_memory_bytes,
                        concurrency, max_length=max_length)
    if plan.fits:
        return plan
    out = []
    budget = (host_memory_bytes or 0) - weights - plan.overhead_bytes
    per_token = kv_cache_bytes(m, 1, concurrency, q.kv_bytes or 4)
    length = int(budget // per_token) // 1024 * 1024 if budget > 0 else 0
    if length >= 1024:
        out.append(Fix("context", str(length), "a shorter context", f"a shorter max_length: {length}"))
    seqs = int(budget // kv_cache_bytes(m, max_length, 1, q.kv_bytes or 4)) if budget > 0 else 0
    if 1 <= seqs < concurrency:
        out.append(Fix("concurrency", str(seqs), "fewer concurrent requests", f"fewer concurrent requests: {seqs}"))
    tier = bigger_tier(plan.total_bytes, host_memory_bytes or 0)
    if tier:
        out.append(tier)
    return with_fixes(plan, out)


def size_onnx(model: str | ModelSpec, *, variant: str = "cpu-int4", max_length: int = 4096,
              concurrency: int = 1, host_memory_bytes: int | None = None) -> MemoryPlan:
    """Size an ONNX Runtime GenAI server; FitError when host_memory_bytes is given and too small.

    total = int4 weights + 2 × layers × kv_heads × head_dim × bytes(io dtype) × max_length × concurrency
            + 512 MiB + one prompt of activations; request = total, limit = 1.25 × total (whole Gi).
    """
    plan = report_onnx(model, variant=variant, max_length=max_length, concurrency=concurrency,
                       host_memory_bytes=host_memory_bytes)
    return fit_on_host(model, plan, f"{max_length} × {concurrency}", host_memory_bytes)


