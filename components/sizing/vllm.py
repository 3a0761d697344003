"""vLLM sizing: weights by dtype/quantization, GPU count and tensor parallelism, KV cache and the engine flags."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from components.catalog import (
    GpuSpec,
    ModelSpec,
    QuantSpec,
    get_gpu,
    get_quant,
    list_gpus,
)
from components.sizing.common import (
    FitError,
    Fix,
    GiB,
    MiB,
    Wording,
    fit_message,
    gib,
    head_params,
    k8s_quantity,
    linear_params,
    model_spec,
    quant_spec,
    with_fixes,
    worded,
)

DEFAULT_MAX_MODEL_LEN = 8192
"""--max-model-len when none is given: min(model max positions, 8192). 8k covers chat with tool
schemas and RAG snippets while keeping the KV cache of small GPUs for concurrency."""

GPU_COUNTS = (1, 2, 4, 8)  # one node; more needs multi-node pipeline parallelism
MAX_NUM_SEQS_CAP = 256  # vLLM's default --max-num-seqs
VLLM_BATCHED_TOKENS = 8192  # activation profile size (vLLM max_num_batched_tokens with chunked prefill)
VLLM_NON_TORCH_BYTES = 512 * MiB
VLLM_CUDA_GRAPH_BYTES = 512 * MiB
HOST_BASE_BYTES = 4 * GiB  # vLLM host process: Python, tokenizer, pinned buffers

KV_DTYPE_BYTES = {"auto": 2.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp8_e4m3": 1.0, "fp8_e5m2": 1.0}


def vllm_weights_bytes(model: str | ModelSpec, quantization: str = "bf16") -> int:
    """GPU weight bytes: linear layers at the format's bits, embeddings/lm_head/vision at 2 bytes."""
    m = model_spec(model)
    q = get_quant(quantization)
    linear_bits = q.bits_per_weight if q.linear_only else 16.0
    linear = linear_params(m) * linear_bits / 8
    rest = (head_params(m) + m.vision_params) * (2 if q.linear_only else q.bits_per_weight / 8)
    return math.ceil(linear + rest)


# --------------------------------------------------------------------------- GGUF

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
    fixes: tuple[Fix, ...] = ()
    """The suggestions as :class:`Fix` records (``suggestions`` is their engine wording)."""

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


def _vllm_suggestions(req: _VllmRequest, plan: VllmPlan) -> list[Fix]:
    """What would fit instead: shorter context, fewer sequences, more GPUs, smaller format, bigger GPU."""
    m, out = req.model, []
    per_token = _kv_per_token(m, KV_DTYPE_BYTES[req.kv_cache_dtype], plan.tensor_parallel_size)
    if plan.kv_budget_bytes > 0:
        max_len = int(plan.kv_budget_bytes // (per_token * req.concurrency)) // 1024 * 1024
        if max_len >= 1024:
            out.append(Fix("context", str(max_len), "a shorter context",
                           f"a shorter context: --max-model-len {max_len} fits {req.concurrency} sequences"))
        seqs = int(plan.kv_budget_bytes // (per_token * req.max_model_len))
        if 1 <= seqs < req.concurrency:
            out.append(Fix("concurrency", str(seqs), "fewer concurrent sequences",
                           f"fewer concurrent sequences: {seqs} at {req.max_model_len} tokens"))
    more = _first_fit(req, [n for n in _valid_counts(m) if n > plan.gpu_count])
    if more:
        out.append(Fix("gpu_count", str(more.gpu_count), "more GPUs",
                       f"more GPUs: {more.gpu_count} × {req.gpu.id} (--tensor-parallel-size {more.gpu_count})"))
    for qid in ("fp8", "awq", "gptq"):
        if qid == req.quant.id or qid not in m.vllm_quantizations:
            continue
        if get_quant(qid).requires_fp8_gpu and not req.gpu.fp8:
            continue
        alt = _first_fit(replace(req, quant=get_quant(qid)), [plan.gpu_count])
        if alt:
            out.append(Fix("quantization", qid, "a smaller quantization",
                           f"a smaller quantization: {qid} on {plan.gpu_count} × {req.gpu.id}"))
            break
    if req.kv_cache_dtype == "auto" and req.gpu.fp8:
        alt = _first_fit(replace(req, kv_cache_dtype="fp8"), [plan.gpu_count])
        if alt:
            out.append(Fix("kv_cache", "fp8", "an fp8 KV cache", "an fp8 KV cache: --kv-cache-dtype fp8"))
    for gpu in list_gpus():
        if gpu.memory_mib <= req.gpu.memory_mib or (req.quant.requires_fp8_gpu and not gpu.fp8):
            continue
        if _first_fit(replace(req, gpu=gpu), [1]):
            out.append(Fix("gpu", gpu.id, "a bigger GPU", f"a bigger GPU: 1 × {gpu.id}"))
            break
    return out or [Fix("model", "", "a smaller model", "nothing in the catalog on one node; use a smaller model")]


def fit_problem(plan: VllmPlan, words: Wording | None = None, *, context: str = "", concurrency: str = "",
                utilization: str = "--gpu-memory-utilization") -> str:
    """A plan that does not fit, in the reader's words: ``words`` per fix setting (see
    :func:`components.sizing.common.worded`; None: the engine's own text); ``context``, ``concurrency`` and
    ``utilization`` name those settings in the numbers (``KV at maxModelLen 32768 × concurrency 8``)."""
    fixes = [f.text for f in plan.fixes] if words is None else worded(plan.fixes, words)
    at = " ".join(filter(None, (context, str(plan.max_model_len), "×", concurrency, str(plan.concurrency))))
    where = (f"{plan.gpu_count} × {plan.gpu} has {gib(plan.available_bytes)} usable at {utilization} "
             f"{plan.gpu_memory_utilization:g}")
    return fit_message(f"{model_spec(plan.model).display_name} {plan.quantization}", plan, at, where, fixes)


def _vllm_request(model: str | ModelSpec, quantization: str, kv_cache_dtype: str,
                  max_model_len: int | None, concurrency: int, gpu: str,
                  gpu_memory_utilization: float) -> _VllmRequest:
    m = model_spec(model)
    q = quant_spec(quantization, "vllm", m, m.vllm_quantizations)
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
    return with_fixes(plan, _vllm_suggestions(req, plan))


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
    raise FitError(fit_problem(plan), needed_bytes=plan.total_bytes,
                   available_bytes=plan.available_bytes, suggestions=list(plan.suggestions), plan=plan)


# --------------------------------------------------------------------------- CPU engines
