"""GGUF sizing (Ollama / llama.cpp): tensor-by-tensor weights with llama.cpp's type rules, KV cache, fit."""

from __future__ import annotations

import math

from components.catalog import ModelSpec, QuantSpec, ggml_type_bits
from components.sizing.common import (
    RUNTIME_BASE_BYTES,
    Fix,
    MemoryPlan,
    bigger_tier,
    fit_on_host,
    kv_cache_bytes,
    memory_plan,
    model_spec,
    quant_spec,
    with_fixes,
)

LLAMA_CPP_BATCH = 512  # llama.cpp n_batch default
OLLAMA_KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}  # OLLAMA_KV_CACHE_TYPE
K_FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}  # llama-quant.cpp, rows not % 256


def _use_more_bits(layer: int, n_layers: int) -> bool:
    """llama.cpp use_more_bits(): first and last eighth of the layers, and every third in between."""
    return layer < n_layers // 8 or layer >= 7 * n_layers // 8 or (layer - n_layers // 8) % 3 == 2


def _gguf_tensors(m: ModelSpec) -> list[tuple[str, int, int, int]]:
    """(name, params, row length ne0, layer) of each 2-D tensor of a dense decoder GGUF."""
    h, hd, inter = m.hidden_size, m.head_dim, m.intermediate_size
    q_dim, kv_dim = m.attention_heads * hd, m.kv_heads * hd
    tensors = [("token_embd", m.embedding_params, h, -1)]
    if not m.tied_embeddings:
        tensors.append(("output", m.embedding_params, h, -1))
    for i in range(m.layers):
        tensors += [
            ("attn_q", h * q_dim, h, i), ("attn_k", h * kv_dim, h, i), ("attn_v", h * kv_dim, h, i),
            ("attn_output", q_dim * h, q_dim, i),
            ("ffn_gate", h * inter, h, i), ("ffn_up", h * inter, h, i), ("ffn_down", inter * h, inter, i),
        ]
    return tensors


def _gguf_type(q: QuantSpec, name: str, ne0: int, layer: int, m: ModelSpec) -> str:
    """Tensor type chosen by llama.cpp's llama_tensor_get_type (simplified to dense models)."""
    base = q.base_type or "F16"
    if base in ("F16", "BF16", "F32"):
        return base
    is_output = name == "output" or (name == "token_embd" and m.tied_embeddings)
    if is_output:
        return "Q8_0" if (base == "Q8_0" or ne0 % 256) else "Q6_K"
    chosen = base
    if q.mix and name in ("attn_v", "ffn_down") and _use_more_bits(layer, m.layers):
        chosen = "Q6_K"
    if chosen in K_FALLBACK and ne0 % 256:
        chosen = K_FALLBACK[chosen]
    return chosen


def gguf_weights_bytes(model: str | ModelSpec, quantization: str = "Q4_K_M",
                       include_vision: bool = True) -> int:
    """GGUF file size estimate: Σ tensor params × bits(type)/8, + the vision tower at F16."""
    m = model_spec(model)
    q = quant_spec(quantization, "gguf", m, None)
    total = 0.0
    for name, n, ne0, layer in _gguf_tensors(m):
        total += n * ggml_type_bits(_gguf_type(q, name, ne0, layer, m)) / 8
    if include_vision:
        total += m.vision_params * 2
    return math.ceil(total)



def _ollama_plan(m: ModelSpec, quantization: str, num_ctx: int, num_parallel: int, kv_cache_type: str,
                 host_memory_bytes: int | None) -> MemoryPlan:
    """Evaluate one Ollama configuration without suggestions (never raises FitError)."""
    q = quant_spec(quantization, "gguf", m, None)
    if kv_cache_type not in OLLAMA_KV_BYTES:
        raise ValueError(f"kv_cache_type must be one of {', '.join(OLLAMA_KV_BYTES)}")
    if num_ctx < 1 or num_parallel < 1:
        raise ValueError("num_ctx and num_parallel must be >= 1")
    weights = gguf_weights_bytes(m, q.id)
    kv = kv_cache_bytes(m, num_ctx, num_parallel, OLLAMA_KV_BYTES[kv_cache_type])
    compute = LLAMA_CPP_BATCH * (m.vocab_size + 4 * m.hidden_size + 2 * m.intermediate_size) * 4
    return memory_plan("ollama", m, q.id, weights, kv, RUNTIME_BASE_BYTES + compute, host_memory_bytes,
                        num_parallel, num_ctx=num_ctx, num_parallel=num_parallel, kv_cache_type=kv_cache_type)


def report_ollama(model: str | ModelSpec, *, quantization: str = "Q4_K_M", num_ctx: int = 4096,
                  num_parallel: int = 1, kv_cache_type: str = "f16",
                  host_memory_bytes: int | None = None) -> MemoryPlan:
    """Ollama memory: GGUF weights + KV (num_ctx × num_parallel) + runtime; fits=False + suggestions
    instead of FitError."""
    m = model_spec(model)
    plan = _ollama_plan(m, quantization, num_ctx, num_parallel, kv_cache_type, host_memory_bytes)
    if plan.fits:
        return plan
    return with_fixes(plan, _ollama_suggestions(m, plan, host_memory_bytes or 0))


def _ollama_suggestions(m: ModelSpec, plan: MemoryPlan, available: int) -> list[Fix]:
    out = []
    budget = available - plan.weights_bytes - plan.overhead_bytes
    per_ctx_token = kv_cache_bytes(m, 1, plan.num_parallel or 1, OLLAMA_KV_BYTES[plan.kv_cache_type or "f16"])
    ctx = int(budget // per_ctx_token) // 1024 * 1024 if budget > 0 else 0
    if ctx >= 1024:
        out.append(Fix("context", str(ctx), "a shorter context", f"a shorter context: num_ctx {ctx}"))
    parallel = plan.num_parallel or 1
    per_sequence = kv_cache_bytes(m, plan.num_ctx or 4096, 1, OLLAMA_KV_BYTES[plan.kv_cache_type or "f16"])
    seqs = int(budget // per_sequence) if budget > 0 else 0
    if 1 <= seqs < parallel:
        out.append(Fix("concurrency", str(seqs), "fewer parallel requests",
                       f"fewer parallel requests: OLLAMA_NUM_PARALLEL={seqs}"))
    # Only formats the model is published in (an Ollama tag exists for them), smallest last.
    for qid in [q for q in ("Q4_K_M", "Q4_0") if not m.ollama_quantizations or q in m.ollama_quantizations]:
        smaller = _ollama_plan(m, qid, plan.num_ctx or 4096, plan.num_parallel or 1,
                               plan.kv_cache_type or "f16", available)
        if smaller.weights_bytes < plan.weights_bytes and smaller.fits:
            out.append(Fix("quantization", qid, "a smaller quantization", f"a smaller quantization: {qid}"))
            break
    if plan.kv_cache_type == "f16":
        q8 = _ollama_plan(m, plan.quantization, plan.num_ctx or 4096, plan.num_parallel or 1, "q8_0",
                          available)
        if q8.fits:
            out.append(Fix("kv_cache", "q8_0", "a q8_0 KV cache",
                           "a q8_0 KV cache: OLLAMA_KV_CACHE_TYPE=q8_0 (needs OLLAMA_FLASH_ATTENTION=1)"))
    tier = bigger_tier(plan.total_bytes, available, installed=True)
    if tier:
        out.append(tier)
    return out


def size_ollama(model: str | ModelSpec, *, quantization: str = "Q4_K_M", num_ctx: int = 4096,
                num_parallel: int = 1, kv_cache_type: str = "f16",
                host_memory_bytes: int | None = None) -> MemoryPlan:
    """Size an Ollama server; FitError when host_memory_bytes is given and the total exceeds it.

    total = GGUF weights + 2 × layers × kv_heads × head_dim × bytes(kv type) × num_ctx × num_parallel
            + 512 MiB + compute buffer; request = total, limit = 1.25 × total (whole Gi).
    """
    plan = report_ollama(model, quantization=quantization, num_ctx=num_ctx, num_parallel=num_parallel,
                         kv_cache_type=kv_cache_type, host_memory_bytes=host_memory_bytes)
    return fit_on_host(model, plan, f"{num_ctx} × {num_parallel}", host_memory_bytes)


