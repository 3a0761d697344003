"""Memory model: published checkpoint sizes, formulas, vLLM layout derivation, fit verdicts."""

from __future__ import annotations

import pytest

from components.catalog import get_model
from components.sizing import (
    FitError,
    MemoryPlan,
    VllmPlan,
    checkpoint_bytes,
    gguf_weights_bytes,
    k8s_quantity,
    kv_cache_bytes,
    onnx_weights_bytes,
    report,
    size_ollama,
    size_onnx,
    size_vllm,
    vllm_weights_bytes,
)

GiB = 2**30
GB = 10**9

# Published checkpoint sizes, decimal bytes. (model, format, bytes, source)
#   "safetensors": total of the repo's *.safetensors files (bf16) at the pinned revision.
#   GGUF types: one GGUF file. Ollama library sizes include the F16 vision tower of gemma3 4b+.
#   "onnx:<variant>": model.onnx.data of the published ONNX export.
PUBLISHED = [
    ("phi-4-mini-instruct", "safetensors", 7.67 * GB, "HF microsoft/Phi-4-mini-instruct files: 4.98 GB + 2.69 GB"),
    ("qwen3-0.6b", "safetensors", 1.50 * GB, "HF Qwen/Qwen3-0.6B files: model.safetensors 1.5 GB (lm_head stored)"),
    ("qwen3-1.7b", "safetensors", 4.06 * GB, "HF Qwen/Qwen3-1.7B files: 3.44 GB + 622 MB (lm_head shard)"),
    ("qwen3-4b", "safetensors", 8.05 * GB, "HF Qwen/Qwen3-4B files (3 shards), = bartowski Qwen3-4B-bf16.gguf 8.05GB"),
    ("qwen3-8b", "safetensors", 16.38 * GB, "HF Qwen/Qwen3-8B files (5 shards), = bartowski Qwen3-8B-bf16.gguf 16.39GB"),
    ("qwen3-14b", "safetensors", 29.5 * GB, "HF Qwen/Qwen3-14B files (8 shards), 14.8B params × 2 bytes"),
    ("gemma-3-1b-it", "safetensors", 2.0 * GB, "HF google/gemma-3-1b-it files: model.safetensors 2.0 GB"),
    ("gemma-3-4b-it", "safetensors", 8.6 * GB, "HF google/gemma-3-4b-it files: 4.96 GB + 3.64 GB"),
    ("gemma-3-12b-it", "safetensors", 24.4 * GB, "HF google/gemma-3-12b-it files (5 shards)"),
    ("gemma-3-27b-it", "safetensors", 54.9 * GB, "HF google/gemma-3-27b-it files (12 shards)"),
    ("llama-3.2-1b-instruct", "safetensors", 2.47 * GB, "HF meta-llama/Llama-3.2-1B-Instruct: model.safetensors 2.47 GB"),
    ("llama-3.2-3b-instruct", "safetensors", 6.43 * GB, "HF meta-llama/Llama-3.2-3B-Instruct: 4.97 GB + 1.46 GB"),
    ("smollm2-1.7b-instruct", "safetensors", 3.42 * GB, "HF HuggingFaceTB/SmolLM2-1.7B-Instruct: model.safetensors 3.42 GB"),
    # GGUF files
    ("phi-4-mini-instruct", "Q4_K_M", 2_491_874_272, "unsloth/Phi-4-mini-instruct-GGUF Phi-4-mini-instruct-Q4_K_M.gguf"),
    ("phi-4-mini-instruct", "Q4_K_M", 2.5 * GB, "ollama.com/library/phi4-mini tags: 3.8b (Q4_K_M) 2.5GB"),
    ("phi-4-mini-instruct", "F16", 7.6 * GB, "docs/facts.md course table: F16 7.6 GB"),
    ("phi-4-mini-instruct", "Q8_0", 3.9 * GB, "docs/facts.md course table: Q8_0 3.9 GB"),
    ("qwen3-0.6b", "F16", 1.2 * GB, "docs/facts.md course table: F16 1.2 GB"),
    ("qwen3-1.7b", "Q4_K_M", 1_107_409_472, "unsloth/Qwen3-1.7B-GGUF Qwen3-1.7B-Q4_K_M.gguf (byte count quoted with its SHA-256)"),
    ("qwen3-4b", "F16", 8.05 * GB, "bartowski/Qwen_Qwen3-4B-GGUF README: bf16 8.05GB"),
    ("qwen3-4b", "Q8_0", 4.28 * GB, "bartowski/Qwen_Qwen3-4B-GGUF README: Q8_0 4.28GB"),
    ("qwen3-4b", "Q5_K_M", 2.89 * GB, "bartowski/Qwen_Qwen3-4B-GGUF README: Q5_K_M 2.89GB"),
    ("qwen3-4b", "Q4_K_M", 2.50 * GB, "bartowski/Qwen_Qwen3-4B-GGUF README: Q4_K_M 2.50GB"),
    ("qwen3-4b", "Q4_0", 2.38 * GB, "bartowski/Qwen_Qwen3-4B-GGUF README: Q4_0 2.38GB"),
    ("qwen3-8b", "F16", 16.39 * GB, "bartowski/Qwen_Qwen3-8B-GGUF README: bf16 16.39GB"),
    ("qwen3-8b", "Q8_0", 8.71 * GB, "bartowski/Qwen_Qwen3-8B-GGUF README: Q8_0 8.71GB"),
    ("qwen3-8b", "Q4_K_M", 5.2 * GB, "ollama.com/library/qwen3 tags: 8b 5.2GB"),
    ("qwen3-14b", "Q4_K_M", 9.3 * GB, "ollama.com/library/qwen3 tags: 14b 9.3GB"),
    ("gemma-3-1b-it", "Q4_K_M", 815 * 10**6, "ollama.com/library/gemma3 tags: 1b 815MB"),
    ("gemma-3-4b-it", "Q4_K_M", 3.3 * GB, "ollama.com/library/gemma3 tags: 4b 3.3GB (incl. vision tower)"),
    ("gemma-3-12b-it", "Q4_K_M", 8.1 * GB, "ollama.com/library/gemma3 tags: 12b 8.1GB (incl. vision tower)"),
    ("gemma-3-27b-it", "Q4_K_M", 17 * GB, "ollama.com/library/gemma3 tags: 27b 17GB (incl. vision tower)"),
    ("llama-3.2-1b-instruct", "Q8_0", 1.3 * GB, "ollama.com/library/llama3.2 tags: 1b (Q8_0) 1.3GB"),
    ("llama-3.2-3b-instruct", "Q4_K_M", 2.0 * GB, "ollama.com/library/llama3.2 tags: 3b (Q4_K_M) 2.0GB"),
    ("smollm2-1.7b-instruct", "Q8_0", 1.8 * GB, "ollama.com/library/smollm2 tags: 1.7b (Q8_0) 1.8GB"),
    # ONNX exports
    ("phi-4-mini-instruct", "onnx:cpu-int4", 4.86 * GB, "microsoft/Phi-4-mini-instruct-onnx cpu-int4-rtn-block-32-acc-level-4 model.onnx.data 4.86 GB"),
    ("phi-4-mini-instruct", "onnx:gpu-int4", 3.4 * GB, "docs/facts.md: gpu/gpu-int4-rtn-block-32 about 3.4 GB of weights"),
    ("llama-3.2-3b-instruct", "onnx:cpu-int4", 3.66 * GB, "onnx-community/Llama-3.2-3B-Instruct-GENAI-ONNX@5db5cdb5: 7 files, 3.66 GB (fp32 embedding => CPU layout)"),
]

# Course figures (docs/facts.md, "approximate") that the model deliberately does not match: the Q4_0 rows
# ignore that llama.cpp keeps the (tied) output matrix at Q6_K, and 0.68 GB is not 0.6B × 8.5 bits.
NOT_MATCHED = [("phi-4-mini-instruct", "Q4_0", 2.0 * GB), ("qwen3-0.6b", "Q8_0", 0.68 * GB), ("qwen3-0.6b", "Q4_0", 0.35 * GB)]


def _estimate(model: str, fmt: str) -> int:
    if fmt == "safetensors":
        return checkpoint_bytes(model)
    if fmt.startswith("onnx:"):
        return onnx_weights_bytes(model, fmt.split(":", 1)[1])
    return gguf_weights_bytes(model, fmt)


@pytest.mark.parametrize("model,fmt,published,source", PUBLISHED, ids=[f"{m}-{f}-{i}" for i, (m, f, *_rest) in enumerate(PUBLISHED)])
def test_estimated_weights_within_5_percent_of_published(model, fmt, published, source):
    assert source
    estimate = _estimate(model, fmt)
    assert abs(estimate / published - 1) <= 0.05, f"{model} {fmt}: {estimate / GB:.3f} GB vs {published / GB:.3f} GB ({source})"


def test_every_catalog_model_has_a_published_safetensors_size():
    from components.catalog import list_models
    covered = {m for m, f, *_ in PUBLISHED if f == "safetensors"}
    assert covered == {m.id for m in list_models()}


@pytest.mark.parametrize("model,fmt,course", NOT_MATCHED)
def test_known_course_mismatches_stay_documented(model, fmt, course):
    assert abs(gguf_weights_bytes(model, fmt) / course - 1) > 0.05


def test_kv_cache_formula_matches_issue_example():
    # Qwen3-14B: 2 × 40 layers × 8 kv heads × 128 × 2 bytes × 8192 × 4 = 5.0 GiB
    m = get_model("qwen3-14b")
    assert kv_cache_bytes(m, 8192, 4, 2) == 2 * 40 * 8 * 128 * 2 * 8192 * 4 == 5 * GiB


def test_vllm_weights_by_format():
    m = get_model("qwen3-8b")
    bf16 = vllm_weights_bytes(m, "bf16")
    assert bf16 == 2 * m.text_params
    fp8 = vllm_weights_bytes(m, "fp8")
    assert fp8 == m.layers * m.layer_params + 2 * 2 * m.embedding_params  # linear 1 byte, emb+head 2
    assert vllm_weights_bytes(m, "awq") < fp8 < bf16


def test_gguf_tied_checkpoints_do_not_count_the_duplicate_lm_head():
    m = get_model("qwen3-0.6b")
    assert checkpoint_bytes(m) - 2 * m.text_params == 2 * m.embedding_params
    assert gguf_weights_bytes(m, "F16") == 2 * m.text_params


def test_vision_tower_only_in_multimodal_blobs():
    m = get_model("gemma-3-4b-it")
    assert gguf_weights_bytes(m, "Q4_K_M") - gguf_weights_bytes(m, "Q4_K_M", include_vision=False) == 2 * m.vision_params


def test_size_vllm_phi4_on_l4_defaults():
    plan = size_vllm("phi-4-mini-instruct")
    assert isinstance(plan, VllmPlan) and plan.fits
    assert (plan.gpu, plan.gpu_count, plan.tensor_parallel_size, plan.max_model_len) == ("l4", 1, 1, 8192)
    assert plan.total_bytes == plan.weights_bytes + plan.kv_cache_bytes + plan.overhead_bytes
    assert plan.kv_budget_bytes == plan.available_bytes - plan.weights_bytes - plan.overhead_bytes
    per_seq = kv_cache_bytes(get_model("phi-4-mini-instruct"), 8192, 1, 2)
    assert plan.max_num_seqs == min(256, plan.kv_budget_bytes // per_seq) >= 4
    assert plan.checkpoint_revision == "5a149550068a1eb93398160d8953f5f56c3603e9"
    assert plan.node_label_value == "NVIDIA-L4"


def test_engine_args_only_add_non_default_flags():
    args = size_vllm("phi-4-mini-instruct").engine_args()
    assert args[:2] == ["--max-model-len", "8192"] and "--tensor-parallel-size" in args
    assert "--quantization" not in args and "--kv-cache-dtype" not in args
    fp8 = size_vllm("qwen3-8b", quantization="fp8", kv_cache_dtype="fp8").engine_args()
    assert fp8[fp8.index("--quantization") + 1] == "fp8" and fp8[fp8.index("--kv-cache-dtype") + 1] == "fp8"


def test_size_vllm_derives_smallest_gpu_count():
    plan = size_vllm("qwen3-14b", gpu="l4")
    assert (plan.gpu_count, plan.tensor_parallel_size) == (2, 2)
    assert size_vllm("qwen3-14b", gpu="a100-80gb").gpu_count == 1


def test_issue_example_does_not_fit_with_numbers_and_suggestions():
    with pytest.raises(FitError) as exc:
        size_vllm("qwen3-14b", gpu="l4", gpu_count=1, max_model_len=8192, concurrency=4)
    err = exc.value
    msg = str(err)
    assert "Qwen3-14B bf16 needs 27.5 GiB of weights + 5.0 GiB KV at 8192 × 4" in msg
    assert "1 × l4 has 20.2 GiB usable" in msg
    assert err.needed_bytes > err.available_bytes
    assert any(s.startswith("more GPUs: 2 × l4") for s in err.suggestions)
    assert any("awq" in s for s in err.suggestions)
    assert isinstance(err, ValueError) and err.plan is not None and not err.plan.fits


def test_shorter_context_suggestion_fits():
    with pytest.raises(FitError) as exc:
        size_vllm("qwen3-8b", gpu="l4", gpu_count=1, max_model_len=40960, concurrency=8)
    ctx = [s for s in exc.value.suggestions if s.startswith("a shorter context")]
    assert ctx
    length = int(ctx[0].split("--max-model-len ")[1].split()[0])
    assert size_vllm("qwen3-8b", gpu="l4", gpu_count=1, max_model_len=length, concurrency=8).fits


def test_report_returns_fits_false_instead_of_raising():
    plan = report("vllm", "qwen3-14b", gpu="l4", gpu_count=1)
    assert not plan.fits and plan.suggestions


def test_more_than_one_node_is_an_error():
    with pytest.raises(ValueError, match="What would fit"):
        size_vllm("gemma-3-27b-it", gpu="l4", max_model_len=131072, concurrency=8)
    with pytest.raises(ValueError, match="one node"):
        size_vllm("qwen3-8b", gpu_count=16)


@pytest.mark.parametrize("kwargs,match", [
    ({"gpu_count": 4, "tensor_parallel_size": 3}, "does not divide"),
    ({"quantization": "awq", "model": "phi-4-mini-instruct"}, "offers vllm quantizations"),
    ({"quantization": "fp8", "gpu": "a100-80gb"}, "Ada/Hopper"),
    ({"quantization": "fp8", "gpu": "a10g"}, "Ada/Hopper"),
    ({"max_model_len": 50000}, "maximum of 40960"),
    ({"quantization": "Q4_K_M"}, "gguf format"),
    ({"gpu": "t4"}, "unknown gpu"),
])
def test_size_vllm_rejects_bad_input(kwargs, match):
    model = kwargs.pop("model", "qwen3-8b")
    with pytest.raises(ValueError, match=match):
        size_vllm(model, **kwargs)


def test_tp_must_divide_heads():
    with pytest.raises(ValueError, match="attention heads"):
        size_vllm("gemma-3-1b-it", tensor_parallel_size=8)  # 4 heads


def test_pipeline_parallel_when_tp_smaller_than_count():
    plan = size_vllm("qwen3-8b", gpu_count=2, tensor_parallel_size=1)
    assert plan.pipeline_parallel_size == 2
    assert "--pipeline-parallel-size" in plan.engine_args()


def test_awq_plan_uses_the_prequantized_checkpoint():
    plan = size_vllm("qwen3-8b", quantization="awq")
    assert plan.checkpoint_repo == "Qwen/Qwen3-8B-AWQ" and plan.checkpoint_revision is None


def test_size_ollama_phi4():
    plan = size_ollama("phi-4-mini-instruct", num_ctx=4096, num_parallel=1)
    assert isinstance(plan, MemoryPlan) and plan.fits and plan.engine == "ollama"
    assert plan.kv_cache_bytes == 2 * 32 * 8 * 128 * 2 * 4096
    assert plan.memory_request == k8s_quantity(plan.total_bytes)
    assert plan.memory_limit_bytes >= plan.total_bytes and plan.memory_limit.endswith("Gi")
    assert plan.settings["num_ctx"] == "4096"


def test_ollama_kv_scales_with_parallel_and_kv_type():
    one = size_ollama("qwen3-8b", num_parallel=1)
    four = size_ollama("qwen3-8b", num_parallel=4)
    assert four.kv_cache_bytes == 4 * one.kv_cache_bytes
    assert size_ollama("qwen3-8b", kv_cache_type="q8_0").kv_cache_bytes < one.kv_cache_bytes


def test_ollama_fit_error_on_small_host():
    with pytest.raises(FitError) as exc:
        size_ollama("qwen3-14b", host_memory_bytes=8 * GiB)
    assert "GiB" in str(exc.value) and exc.value.available_bytes == 8 * GiB
    assert any("cpu-16gb" in s for s in exc.value.suggestions)


def test_size_onnx_phi4_cpu():
    plan = size_onnx("phi-4-mini-instruct", max_length=4096)
    assert plan.kv_cache_bytes == 2 * 32 * 8 * 128 * 4 * 4096  # float32 I/O on CPU
    assert plan.max_length == 4096 and plan.fits
    with pytest.raises(FitError):
        size_onnx("phi-4-mini-instruct", host_memory_bytes=4 * GiB)
    with pytest.raises(ValueError, match="maximum"):
        size_onnx("smollm2-1.7b-instruct", max_length=16384)


def test_k8s_quantity_rounds_up():
    assert k8s_quantity(GiB) == "1Gi" and k8s_quantity(GiB + 1) == "2Gi" and k8s_quantity(1) == "1Gi"
