"""Memory model and fit verdict for vLLM, Ollama (GGUF) and ONNX Runtime GenAI.

Everything is computed in bytes (ints). Messages print GiB (2**30 bytes) and say so.

Formulas (docs/sizing.md explains them and where they are approximate):

* weights
    - vLLM bf16/fp16: (text params + vision params) × 2 bytes; fp8 / AWQ / GPTQ quantize the linear
      layers only (bits_per_weight / 8 bytes each), embeddings, lm_head and the vision tower stay 2 bytes.
    - GGUF: tensor by tensor with llama.cpp's type rules (output / tied embedding at Q6_K, attn_v and
      ffn_down at Q6_K on the "more bits" layers of the _M mixes, K-quant fallbacks when a row is not
      a multiple of 256) + the vision tower at F16 for the multimodal Gemma 3 blobs.
    - ONNX int4: linear layers and lm_head at the variant's bits/weight, embedding table in float.
* KV cache = 2 × layers × kv_heads × head_dim × bytes(kv dtype) × tokens × concurrent sequences.
* overhead
    - vLLM, per GPU: 512 MiB non-torch memory (CUDA context, cuBLAS/NCCL workspaces)
      + 512 MiB CUDA graphs + activation peak of the profiling run
      (8192 batched tokens × (4 × hidden + 2 × intermediate / tp) × 2 bytes + 256 × vocab × 4 bytes logits).
    - Ollama: 512 MiB runtime + llama.cpp compute buffer for a 512-token batch
      (512 × (vocab + 4 × hidden + 2 × intermediate) × 4 bytes).
    - ONNX: 512 MiB runtime + one prompt of min(max_length, 1024) tokens of float32 activations and
      logits (tokens × (vocab + hidden + intermediate) × 4 bytes).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from components.catalog import (
    GpuSpec,
    ModelSpec,
    QuantSpec,
    get_gpu,
    get_model,
    get_quant,
    ggml_type_bits,
    list_cpu_tiers,
    list_gpus,
)

__all__ = [
    "DEFAULT_MAX_MODEL_LEN",
    "FitError",
    "MemoryPlan",
    "VllmPlan",
    "checkpoint_bytes",
    "gguf_weights_bytes",
    "k8s_quantity",
    "kv_cache_bytes",
    "onnx_weights_bytes",
    "report",
    "report_ollama",
    "report_onnx",
    "report_vllm",
    "size_ollama",
    "size_onnx",
    "size_vllm",
    "vllm_weights_bytes",
]

GiB = 1024**3
MiB = 1024**2

DEFAULT_MAX_MODEL_LEN = 8192
"""--max-model-len when none is given: min(model max positions, 8192). 8k covers chat with tool
schemas and RAG snippets while keeping the KV cache of small GPUs for concurrency."""

GPU_COUNTS = (1, 2, 4, 8)  # one node; more needs multi-node pipeline parallelism
MAX_NUM_SEQS_CAP = 256  # vLLM's default --max-num-seqs
VLLM_BATCHED_TOKENS = 8192  # activation profile size (vLLM max_num_batched_tokens with chunked prefill)
VLLM_NON_TORCH_BYTES = 512 * MiB
VLLM_CUDA_GRAPH_BYTES = 512 * MiB
RUNTIME_BASE_BYTES = 512 * MiB  # Ollama / ONNX process, allocator slack
LLAMA_CPP_BATCH = 512  # llama.cpp n_batch default
ONNX_PREFILL_TOKENS = 1024
HOST_BASE_BYTES = 4 * GiB  # vLLM host process: Python, tokenizer, pinned buffers
LIMIT_HEADROOM = 1.25  # memory limit = 1.25 × estimated total for CPU engines

KV_DTYPE_BYTES = {"auto": 2.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp8_e4m3": 1.0, "fp8_e5m2": 1.0}
OLLAMA_KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}  # OLLAMA_KV_CACHE_TYPE
K_FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}  # llama-quant.cpp, rows not % 256


class FitError(ValueError):
    """A configuration that does not fit. The message has the numbers and what would fit."""

    def __init__(self, message: str, *, needed_bytes: int, available_bytes: int,
                 suggestions: list[str], plan: VllmPlan | MemoryPlan | None = None) -> None:
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        self.suggestions = suggestions
        self.plan = plan


# --------------------------------------------------------------------------- helpers
def gib(n: float) -> str:
    """Format bytes as GiB with one decimal."""
    return f"{n / GiB:.1f} GiB"


def k8s_quantity(n: int) -> str:
    """Round bytes up to a whole Gi quantity ("16Gi")."""
    return f"{max(1, math.ceil(n / GiB))}Gi"


def _quantity_bytes(n: int) -> int:
    return max(1, math.ceil(n / GiB)) * GiB


def _model(model: str | ModelSpec) -> ModelSpec:
    return model if isinstance(model, ModelSpec) else get_model(model)


def _quant(quant_id: str, engine: str, model: ModelSpec, offered: list[str] | None) -> QuantSpec:
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
    m = _model(model)
    extra = m.embedding_params if m.checkpoint_untied_lm_head else 0
    return 2 * (m.text_params + m.vision_params + extra)


def _linear_params(m: ModelSpec) -> int:
    return m.layers * m.layer_params


def _head_params(m: ModelSpec) -> int:
    """Embedding table + untied lm_head."""
    return m.text_params - _linear_params(m)


def vllm_weights_bytes(model: str | ModelSpec, quantization: str = "bf16") -> int:
    """GPU weight bytes: linear layers at the format's bits, embeddings/lm_head/vision at 2 bytes."""
    m = _model(model)
    q = get_quant(quantization)
    linear_bits = q.bits_per_weight if q.linear_only else 16.0
    linear = _linear_params(m) * linear_bits / 8
    rest = (_head_params(m) + m.vision_params) * (2 if q.linear_only else q.bits_per_weight / 8)
    return math.ceil(linear + rest)


# --------------------------------------------------------------------------- GGUF
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
    m = _model(model)
    q = _quant(quantization, "gguf", m, None)
    total = 0.0
    for name, n, ne0, layer in _gguf_tensors(m):
        total += n * ggml_type_bits(_gguf_type(q, name, ne0, layer, m)) / 8
    if include_vision:
        total += m.vision_params * 2
    return math.ceil(total)


def onnx_weights_bytes(model: str | ModelSpec, variant: str = "cpu-int4") -> int:
    """ONNX int4 export: (linear + lm_head) × bits/8 + embedding table × float bytes (text only)."""
    m = _model(model)
    q = _quant(variant, "onnx", m, None)
    quantized = (_linear_params(m) + m.embedding_params) * q.bits_per_weight / 8
    return math.ceil(quantized + m.embedding_params * (q.embedding_bytes or 4))


# --------------------------------------------------------------------------- plans
@dataclass(frozen=True)
class VllmPlan:
    """Sizing result for vLLM. Byte fields are totals over all GPUs of the pod."""

    model: str
    quantization: str
    kv_cache_dtype: str
    gpu: str
    gpu_count: int
    tensor_parallel_size: int
    pipeline_parallel_size: int
    max_model_len: int
    concurrency: int
    max_num_seqs: int
    gpu_memory_utilization: float
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    total_bytes: int
    available_bytes: int
    kv_budget_bytes: int
    fits: bool
    cpu_request: str
    memory_request: str
    memory_limit: str
    checkpoint_repo: str
    checkpoint_revision: str | None
    node_label_value: str
    suggestions: tuple[str, ...] = ()

    def engine_args(self) -> list[str]:
        """vLLM CLI flags derived by the plan; --quantization / --kv-cache-dtype only when not default."""
        args = [
            "--max-model-len", str(self.max_model_len),
            "--max-num-seqs", str(self.max_num_seqs),
            "--gpu-memory-utilization", f"{self.gpu_memory_utilization:g}",
            "--tensor-parallel-size", str(self.tensor_parallel_size),
        ]
        if self.pipeline_parallel_size > 1:
            args += ["--pipeline-parallel-size", str(self.pipeline_parallel_size)]
        quant = get_quant(self.quantization)
        if quant.vllm_quantization:
            args += ["--quantization", quant.vllm_quantization]
        if self.quantization == "fp16":
            args += ["--dtype", "float16"]
        if self.kv_cache_dtype != "auto":
            args += ["--kv-cache-dtype", self.kv_cache_dtype]
        return args

    def to_dict(self) -> dict:
        data = asdict(self)
        data["suggestions"] = list(self.suggestions)
        data["engine_args"] = self.engine_args()
        return data


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

    def to_dict(self) -> dict:
        data = asdict(self)
        data["suggestions"] = list(self.suggestions)
        return data


# --------------------------------------------------------------------------- vLLM
def _vllm_overhead_per_gpu(m: ModelSpec, tp: int) -> int:
    """Non-torch memory + CUDA graphs + activation peak of vLLM's profiling forward pass."""
    act = VLLM_BATCHED_TOKENS * (4 * m.hidden_size + 2 * m.intermediate_size // tp) * 2
    logits = MAX_NUM_SEQS_CAP * m.vocab_size * 4
    return VLLM_NON_TORCH_BYTES + VLLM_CUDA_GRAPH_BYTES + act + logits


def _kv_per_token(m: ModelSpec, kv_bytes: float, tp: int) -> float:
    """KV bytes per token over all GPUs; kv heads are replicated when tp > kv_heads."""
    return 2 * m.layers * max(m.kv_heads, tp) * m.head_dim * kv_bytes


def _check_tp(m: ModelSpec, tp: int) -> str | None:
    if m.attention_heads % tp:
        return f"--tensor-parallel-size {tp} does not divide {m.id}'s {m.attention_heads} attention heads"
    if m.kv_heads % tp and tp % m.kv_heads:
        return f"--tensor-parallel-size {tp} and {m.kv_heads} kv heads do not divide each other"
    return None


@dataclass(frozen=True)
class _VllmRequest:
    model: ModelSpec
    quant: QuantSpec
    kv_cache_dtype: str
    gpu: GpuSpec
    max_model_len: int
    concurrency: int
    utilization: float


def _vllm_plan(req: _VllmRequest, gpu_count: int, tp: int) -> VllmPlan:
    """Evaluate one GPU layout without raising."""
    m, q = req.model, req.quant
    weights = vllm_weights_bytes(m, q.id)
    overhead = _vllm_overhead_per_gpu(m, tp) * gpu_count
    available = int(req.gpu.memory_bytes * req.utilization) * gpu_count
    per_token = _kv_per_token(m, KV_DTYPE_BYTES[req.kv_cache_dtype], tp)
    kv = math.ceil(per_token * req.max_model_len * req.concurrency)
    budget = available - weights - overhead
    fits = budget >= kv and kv > 0
    full_seqs = max(0, int(budget // (per_token * req.max_model_len)))
    checkpoint = m.prequantized.get(q.id)
    host = HOST_BASE_BYTES + weights // 2
    return VllmPlan(
        model=m.id, quantization=q.id, kv_cache_dtype=req.kv_cache_dtype, gpu=req.gpu.id,
        gpu_count=gpu_count, tensor_parallel_size=tp, pipeline_parallel_size=gpu_count // tp,
        max_model_len=req.max_model_len, concurrency=req.concurrency,
        max_num_seqs=min(MAX_NUM_SEQS_CAP, full_seqs) if fits else min(req.concurrency, full_seqs),
        gpu_memory_utilization=req.utilization, weights_bytes=weights, kv_cache_bytes=kv,
        overhead_bytes=overhead, total_bytes=weights + kv + overhead, available_bytes=available,
        kv_budget_bytes=budget, fits=fits, cpu_request=str(4 * gpu_count),
        memory_request=k8s_quantity(host), memory_limit=k8s_quantity(HOST_BASE_BYTES + weights),
        checkpoint_repo=checkpoint.repo if checkpoint else m.hf_repo,
        checkpoint_revision=checkpoint.revision if checkpoint else m.hf_revision,
        node_label_value=req.gpu.node_label_value,
    )


def _valid_counts(m: ModelSpec) -> list[int]:
    return [n for n in GPU_COUNTS if _check_tp(m, n) is None]


def _first_fit(req: _VllmRequest, counts: list[int]) -> VllmPlan | None:
    for n in counts:
        plan = _vllm_plan(req, n, n)
        if plan.fits:
            return plan
    return None


def _vllm_suggestions(req: _VllmRequest, plan: VllmPlan) -> list[str]:
    """What would fit instead: shorter context, fewer sequences, more GPUs, smaller format, bigger GPU."""
    m, out = req.model, []
    per_token = _kv_per_token(m, KV_DTYPE_BYTES[req.kv_cache_dtype], plan.tensor_parallel_size)
    if plan.kv_budget_bytes > 0:
        max_len = int(plan.kv_budget_bytes // (per_token * req.concurrency)) // 1024 * 1024
        if max_len >= 1024:
            out.append(f"a shorter context: --max-model-len {max_len} fits {req.concurrency} sequences")
        seqs = int(plan.kv_budget_bytes // (per_token * req.max_model_len))
        if 1 <= seqs < req.concurrency:
            out.append(f"fewer concurrent sequences: {seqs} at {req.max_model_len} tokens")
    more = _first_fit(req, [n for n in _valid_counts(m) if n > plan.gpu_count])
    if more:
        out.append(f"more GPUs: {more.gpu_count} × {req.gpu.id} (--tensor-parallel-size {more.gpu_count})")
    for qid in ("fp8", "awq", "gptq"):
        if qid == req.quant.id or qid not in m.vllm_quantizations:
            continue
        if get_quant(qid).requires_fp8_gpu and not req.gpu.fp8:
            continue
        alt = _first_fit(replace(req, quant=get_quant(qid)), [plan.gpu_count])
        if alt:
            out.append(f"a smaller quantization: {qid} on {plan.gpu_count} × {req.gpu.id}")
            break
    if req.kv_cache_dtype == "auto" and req.gpu.fp8:
        alt = _first_fit(replace(req, kv_cache_dtype="fp8"), [plan.gpu_count])
        if alt:
            out.append("an fp8 KV cache: --kv-cache-dtype fp8")
    for gpu in list_gpus():
        if gpu.memory_mib <= req.gpu.memory_mib or (req.quant.requires_fp8_gpu and not gpu.fp8):
            continue
        if _first_fit(replace(req, gpu=gpu), [1]):
            out.append(f"a bigger GPU: 1 × {gpu.id}")
            break
    return out or ["nothing in the catalog on one node; use a smaller model"]


def _vllm_message(req: _VllmRequest, plan: VllmPlan, suggestions: list[str]) -> str:
    return (
        f"{req.model.display_name} {req.quant.id} needs {gib(plan.weights_bytes)} of weights"
        f" + {gib(plan.kv_cache_bytes)} KV at {req.max_model_len} × {req.concurrency}"
        f" + {gib(plan.overhead_bytes)} overhead = {gib(plan.total_bytes)};"
        f" {plan.gpu_count} × {req.gpu.id} has {gib(plan.available_bytes)} usable"
        f" at --gpu-memory-utilization {req.utilization:g}. What would fit: " + "; ".join(suggestions)
    )


def _vllm_request(model: str | ModelSpec, quantization: str, kv_cache_dtype: str,
                  max_model_len: int | None, concurrency: int, gpu: str,
                  gpu_memory_utilization: float) -> _VllmRequest:
    m = _model(model)
    q = _quant(quantization, "vllm", m, m.vllm_quantizations)
    g = get_gpu(gpu)
    if q.needs_prequantized_checkpoint and q.id not in m.prequantized:
        raise ValueError(f"{q.id} needs a pre-quantized checkpoint; the catalog has none for {m.id}")
    if q.requires_fp8_gpu and not g.fp8:
        raise ValueError(f"{q.id} needs an Ada/Hopper GPU (compute capability >= 8.9); {g.id} is {g.compute_capability}")
    if kv_cache_dtype not in KV_DTYPE_BYTES:
        raise ValueError(f"kv_cache_dtype must be one of {', '.join(KV_DTYPE_BYTES)}")
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError("gpu_memory_utilization must be in (0, 1]")
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    length = min(m.max_position_embeddings, DEFAULT_MAX_MODEL_LEN) if max_model_len is None else max_model_len
    if length > m.max_position_embeddings:
        raise ValueError(f"max_model_len {length} is above {m.id}'s maximum of {m.max_position_embeddings}")
    if length < 1:
        raise ValueError("max_model_len must be >= 1")
    return _VllmRequest(m, q, kv_cache_dtype, g, length, concurrency, gpu_memory_utilization)


def _vllm_layout(m: ModelSpec, gpu_count: int | None, tp: int | None) -> tuple[int, int] | None:
    """Explicit (gpu_count, tp), or None when both are to be derived."""
    if gpu_count is None and tp is None:
        return None
    count = gpu_count if gpu_count is not None else tp
    tp = tp if tp is not None else count
    if count < 1 or tp < 1:
        raise ValueError("gpu_count and tensor_parallel_size must be >= 1")
    if count > GPU_COUNTS[-1]:
        raise ValueError(f"{count} GPUs is more than one node ({GPU_COUNTS[-1]})")
    if count % tp:
        raise ValueError(f"--tensor-parallel-size {tp} does not divide gpu_count {count}")
    problem = _check_tp(m, tp)
    if problem:
        raise ValueError(problem)
    return count, tp


def report_vllm(model: str | ModelSpec, *, quantization: str = "bf16", kv_cache_dtype: str = "auto",
                max_model_len: int | None = None, concurrency: int = 4, gpu: str = "l4",
                gpu_count: int | None = None, tensor_parallel_size: int | None = None,
                gpu_memory_utilization: float = 0.9) -> VllmPlan:
    """Like :func:`size_vllm` but returns a plan with ``fits=False`` and suggestions instead of raising
    FitError. Bad input (unknown ids, invalid layouts) still raises ValueError."""
    req = _vllm_request(model, quantization, kv_cache_dtype, max_model_len, concurrency, gpu,
                        gpu_memory_utilization)
    layout = _vllm_layout(req.model, gpu_count, tensor_parallel_size)
    if layout is None:
        counts = _valid_counts(req.model)
        plan = _first_fit(req, counts) or _vllm_plan(req, counts[-1], counts[-1])
    else:
        plan = _vllm_plan(req, *layout)
    if plan.fits:
        return plan
    return replace(plan, suggestions=tuple(_vllm_suggestions(req, plan)))


def size_vllm(model: str | ModelSpec, *, quantization: str = "bf16", kv_cache_dtype: str = "auto",
              max_model_len: int | None = None, concurrency: int = 4, gpu: str = "l4",
              gpu_count: int | None = None, tensor_parallel_size: int | None = None,
              gpu_memory_utilization: float = 0.9) -> VllmPlan:
    """Size a vLLM deployment; raise :class:`FitError` (with numbers and suggestions) if it does not fit.

    gpu_count / tensor_parallel_size None: the smallest of 1, 2, 4, 8 GPUs that fits (tp = count).
    max_model_len None: min(model max positions, DEFAULT_MAX_MODEL_LEN).
    kv budget = gpu_count × (gpu memory × utilization) − weights − overhead;
    --max-num-seqs = min(256, kv budget // KV of one max_model_len sequence).
    """
    plan = report_vllm(model, quantization=quantization, kv_cache_dtype=kv_cache_dtype,
                       max_model_len=max_model_len, concurrency=concurrency, gpu=gpu,
                       gpu_count=gpu_count, tensor_parallel_size=tensor_parallel_size,
                       gpu_memory_utilization=gpu_memory_utilization)
    if plan.fits:
        return plan
    req = _vllm_request(model, quantization, kv_cache_dtype, max_model_len, concurrency, gpu,
                        gpu_memory_utilization)
    raise FitError(_vllm_message(req, plan, list(plan.suggestions)), needed_bytes=plan.total_bytes,
                   available_bytes=plan.available_bytes, suggestions=list(plan.suggestions), plan=plan)


# --------------------------------------------------------------------------- CPU engines
def _cpu_request(m: ModelSpec) -> str:
    return {"micro": "2", "small": "4", "medium": "8"}[m.param_class]


def _memory_plan(engine: Literal["ollama", "onnx"], m: ModelSpec, quant: str, weights: int, kv: int,
                 overhead: int, available: int | None, concurrency: int, **settings) -> MemoryPlan:
    total = weights + kv + overhead
    limit = _quantity_bytes(math.ceil(total * LIMIT_HEADROOM))
    engine_settings = {k: str(v) for k, v in settings.items() if v is not None}
    return MemoryPlan(
        engine=engine, model=m.id, quantization=quant, weights_bytes=weights, kv_cache_bytes=kv,
        overhead_bytes=overhead, total_bytes=total, available_bytes=available,
        fits=available is None or total <= available, memory_request=k8s_quantity(total),
        memory_limit=k8s_quantity(limit), memory_limit_bytes=limit, cpu_request=_cpu_request(m),
        concurrency=concurrency, settings=engine_settings, **settings,
    )


def _host_message(m: ModelSpec, plan: MemoryPlan, what: str, suggestions: list[str]) -> str:
    return (
        f"{m.display_name} {plan.quantization} needs {gib(plan.weights_bytes)} of weights"
        f" + {gib(plan.kv_cache_bytes)} KV at {what} + {gib(plan.overhead_bytes)} overhead"
        f" = {gib(plan.total_bytes)}; the host has {gib(plan.available_bytes or 0)} allocatable."
        " What would fit: " + "; ".join(suggestions or ["nothing in the catalog; use a smaller model"])
    )


def _bigger_tier(total: int, available: int) -> str | None:
    for tier in list_cpu_tiers():
        if tier.allocatable_bytes > available and tier.allocatable_bytes >= total:
            return f"a bigger host: {tier.id} ({gib(tier.allocatable_bytes)} allocatable)"
    return None


def _ollama_plan(m: ModelSpec, quantization: str, num_ctx: int, num_parallel: int, kv_cache_type: str,
                 host_memory_bytes: int | None) -> MemoryPlan:
    """Evaluate one Ollama configuration without suggestions (never raises FitError)."""
    q = _quant(quantization, "gguf", m, None)
    if kv_cache_type not in OLLAMA_KV_BYTES:
        raise ValueError(f"kv_cache_type must be one of {', '.join(OLLAMA_KV_BYTES)}")
    if num_ctx < 1 or num_parallel < 1:
        raise ValueError("num_ctx and num_parallel must be >= 1")
    weights = gguf_weights_bytes(m, q.id)
    kv = kv_cache_bytes(m, num_ctx, num_parallel, OLLAMA_KV_BYTES[kv_cache_type])
    compute = LLAMA_CPP_BATCH * (m.vocab_size + 4 * m.hidden_size + 2 * m.intermediate_size) * 4
    return _memory_plan("ollama", m, q.id, weights, kv, RUNTIME_BASE_BYTES + compute, host_memory_bytes,
                        num_parallel, num_ctx=num_ctx, num_parallel=num_parallel, kv_cache_type=kv_cache_type)


def report_ollama(model: str | ModelSpec, *, quantization: str = "Q4_K_M", num_ctx: int = 4096,
                  num_parallel: int = 1, kv_cache_type: str = "f16",
                  host_memory_bytes: int | None = None) -> MemoryPlan:
    """Ollama memory: GGUF weights + KV (num_ctx × num_parallel) + runtime; fits=False + suggestions
    instead of FitError."""
    m = _model(model)
    plan = _ollama_plan(m, quantization, num_ctx, num_parallel, kv_cache_type, host_memory_bytes)
    if plan.fits:
        return plan
    return replace(plan, suggestions=tuple(_ollama_suggestions(m, plan, host_memory_bytes or 0)))


def _ollama_suggestions(m: ModelSpec, plan: MemoryPlan, available: int) -> list[str]:
    out = []
    budget = available - plan.weights_bytes - plan.overhead_bytes
    per_ctx_token = kv_cache_bytes(m, 1, plan.num_parallel or 1, OLLAMA_KV_BYTES[plan.kv_cache_type or "f16"])
    ctx = int(budget // per_ctx_token) // 1024 * 1024 if budget > 0 else 0
    if ctx >= 1024:
        out.append(f"a shorter context: num_ctx {ctx}")
    for qid in ("Q4_K_M", "Q4_0"):
        smaller = _ollama_plan(m, qid, plan.num_ctx or 4096, plan.num_parallel or 1,
                               plan.kv_cache_type or "f16", available)
        if smaller.weights_bytes < plan.weights_bytes and smaller.fits:
            out.append(f"a smaller quantization: {qid}")
            break
    if plan.kv_cache_type == "f16":
        q8 = _ollama_plan(m, plan.quantization, plan.num_ctx or 4096, plan.num_parallel or 1, "q8_0",
                          available)
        if q8.fits:
            out.append("a q8_0 KV cache: OLLAMA_KV_CACHE_TYPE=q8_0 (needs OLLAMA_FLASH_ATTENTION=1)")
    tier = _bigger_tier(plan.total_bytes, available)
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
    if plan.fits:
        return plan
    m = _model(model)
    raise FitError(_host_message(m, plan, f"{num_ctx} × {num_parallel}", list(plan.suggestions)),
                   needed_bytes=plan.total_bytes, available_bytes=host_memory_bytes or 0,
                   suggestions=list(plan.suggestions), plan=plan)


def report_onnx(model: str | ModelSpec, *, variant: str = "cpu-int4", max_length: int = 4096,
                concurrency: int = 1, host_memory_bytes: int | None = None) -> MemoryPlan:
    """ONNX Runtime GenAI memory: int4 weights + KV (max_length × concurrency) + runtime."""
    m = _model(model)
    q = _quant(variant, "onnx", m, None)
    if max_length > m.max_position_embeddings:
        raise ValueError(f"max_length {max_length} is above {m.id}'s maximum of {m.max_position_embeddings}")
    if max_length < 1 or concurrency < 1:
        raise ValueError("max_length and concurrency must be >= 1")
    weights = onnx_weights_bytes(m, q.id)
    kv = kv_cache_bytes(m, max_length, concurrency, q.kv_bytes or 4)
    prefill = min(max_length, ONNX_PREFILL_TOKENS)
    activations = prefill * (m.vocab_size + m.hidden_size + m.intermediate_size) * 4
    plan = _memory_plan("onnx", m, q.id, weights, kv, RUNTIME_BASE_BYTES + activations, host_memory_bytes,
                        concurrency, max_length=max_length)
    if plan.fits:
        return plan
    out = []
    budget = (host_memory_bytes or 0) - weights - plan.overhead_bytes
    per_token = kv_cache_bytes(m, 1, concurrency, q.kv_bytes or 4)
    length = int(budget // per_token) // 1024 * 1024 if budget > 0 else 0
    if length >= 1024:
        out.append(f"a shorter max_length: {length}")
    tier = _bigger_tier(plan.total_bytes, host_memory_bytes or 0)
    if tier:
        out.append(tier)
    return replace(plan, suggestions=tuple(out))


def size_onnx(model: str | ModelSpec, *, variant: str = "cpu-int4", max_length: int = 4096,
              concurrency: int = 1, host_memory_bytes: int | None = None) -> MemoryPlan:
    """Size an ONNX Runtime GenAI server; FitError when host_memory_bytes is given and too small.

    total = int4 weights + 2 × layers × kv_heads × head_dim × bytes(io dtype) × max_length × concurrency
            + 512 MiB + one prompt of activations; request = total, limit = 1.25 × total (whole Gi).
    """
    plan = report_onnx(model, variant=variant, max_length=max_length, concurrency=concurrency,
                       host_memory_bytes=host_memory_bytes)
    if plan.fits:
        return plan
    m = _model(model)
    raise FitError(_host_message(m, plan, f"{max_length} × {concurrency}", list(plan.suggestions)),
                   needed_bytes=plan.total_bytes, available_bytes=host_memory_bytes or 0,
                   suggestions=list(plan.suggestions), plan=plan)


def report(engine: str, model: str | ModelSpec, **kwargs) -> VllmPlan | MemoryPlan:
    """Non-raising sizing for any engine ("vllm", "ollama", "onnx"): returns fits=False with the
    same numbers and suggestions instead of raising FitError."""
    fns = {"vllm": report_vllm, "ollama": report_ollama, "onnx": report_onnx}
    if engine not in fns:
        raise ValueError(f"engine must be one of {', '.join(fns)}")
    return fns[engine](model, **kwargs)
