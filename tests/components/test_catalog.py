"""Catalog loader: ids, typed fields, sources, architecture cross-checks."""

from __future__ import annotations

import re

import pytest

from components.catalog import (
    CATALOG_DIR,
    GpuSpec,
    ModelSpec,
    UnknownCatalogId,
    get_cpu_tier,
    get_gpu,
    get_model,
    get_quant,
    ggml_type_bits,
    list_cpu_tiers,
    list_gpus,
    list_models,
    list_quants,
    param_class_for,
)

REQUIRED_MODELS = {
    "phi-4-mini-instruct", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b",
    "gemma-3-1b-it", "gemma-3-4b-it", "gemma-3-12b-it", "gemma-3-27b-it",
    "llama-3.2-1b-instruct", "llama-3.2-3b-instruct", "smollm2-1.7b-instruct",
}


def test_catalog_covers_the_issue_models():
    assert REQUIRED_MODELS <= {m.id for m in list_models()}


def test_get_model_returns_typed_spec_case_insensitive():
    m = get_model("Qwen3-8B")
    assert isinstance(m, ModelSpec) and m.id == "qwen3-8b"


def test_phi4_mini_architecture_matches_config_json():
    m = get_model("phi-4-mini-instruct")
    assert (m.layers, m.hidden_size, m.attention_heads, m.kv_heads, m.head_dim) == (32, 3072, 24, 8, 128)
    assert (m.vocab_size, m.max_position_embeddings, m.tied_embeddings) == (200064, 131072, True)
    assert m.tool_call_parser == "phi4_mini_json" and not m.gated


@pytest.mark.parametrize("model", sorted(REQUIRED_MODELS))
def test_published_params_match_the_architecture(model):
    """params (model card) vs embeddings + layers (+ vision tower) computed from config.json."""
    m = get_model(model)
    assert m.text_params + m.vision_params == pytest.approx(m.params, rel=0.005)


@pytest.mark.parametrize("model", sorted(REQUIRED_MODELS))
def test_param_class_follows_the_boundaries(model):
    m = get_model(model)
    assert m.param_class == param_class_for(m.params)


def test_param_class_boundaries():
    assert param_class_for(1_400_000_000) == "micro"
    assert param_class_for(1_500_000_000) == "small"
    assert param_class_for(13_900_000_000) == "small"
    assert param_class_for(14_000_000_000) == "medium"
    with pytest.raises(ValueError):
        param_class_for(31_000_000_000)


@pytest.mark.parametrize("model", sorted(REQUIRED_MODELS))
def test_revisions_are_full_shas_with_a_source(model):
    m = get_model(model)
    if m.hf_revision is not None:
        assert re.fullmatch(r"[0-9a-f]{40}", m.hf_revision)
        assert m.revision_source
    assert m.source and m.params_source


def test_reference_models_are_pinned():
    for model in ("phi-4-mini-instruct", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b"):
        assert get_model(model).hf_revision, model


def test_tool_parsers_and_gating():
    assert get_model("qwen3-8b").tool_call_parser == "hermes"
    assert get_model("llama-3.2-3b-instruct").tool_call_parser == "llama3_json"
    assert get_model("llama-3.2-1b-instruct").gated and get_model("gemma-3-4b-it").gated
    assert not get_model("qwen3-4b").gated


def test_multimodal_gemma_has_a_vision_tower_and_1b_has_none():
    assert get_model("gemma-3-1b-it").vision_params == 0
    for m in ("gemma-3-4b-it", "gemma-3-12b-it", "gemma-3-27b-it"):
        assert get_model(m).vision_params > 400_000_000


def test_awq_only_where_a_checkpoint_exists():
    assert "awq" in get_model("qwen3-8b").vllm_quantizations
    assert get_model("qwen3-8b").prequantized["awq"].repo == "Qwen/Qwen3-8B-AWQ"
    assert "awq" not in get_model("phi-4-mini-instruct").vllm_quantizations


def test_phi4_onnx_variants():
    onnx = get_model("phi-4-mini-instruct").onnx
    assert onnx is not None and onnx.repo == "microsoft/Phi-4-mini-instruct-onnx"
    assert onnx.variants["cpu-int4"] == "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4"


def test_unknown_model_lists_allowed_and_suggests():
    with pytest.raises(UnknownCatalogId) as exc:
        get_model("qwen3-9b")
    msg = str(exc.value)
    assert "Did you mean 'qwen3-8b'" in msg and "phi-4-mini-instruct" in msg
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("fn", [get_gpu, get_quant, get_cpu_tier])
def test_unknown_ids_raise_for_every_table(fn):
    with pytest.raises(UnknownCatalogId, match="Allowed"):
        fn("nope")


GPU_LABELS = {
    "l4": "NVIDIA-L4", "a10g": "NVIDIA-A10G", "l40s": "NVIDIA-L40S",
    "a100-40gb": "NVIDIA-A100-SXM4-40GB", "a100-80gb": "NVIDIA-A100-SXM4-80GB",
    "h100-80gb": "NVIDIA-H100-80GB-HBM3", "h200": "NVIDIA-H200",
}


@pytest.mark.parametrize("gpu_id,label", sorted(GPU_LABELS.items()))
def test_gpu_node_labels(gpu_id, label):
    gpu = get_gpu(gpu_id)
    assert isinstance(gpu, GpuSpec) and gpu.node_label_value == label
    assert gpu.node_label_key == "nvidia.com/gpu.product"


def test_fp8_support_follows_compute_capability():
    assert {g.id for g in list_gpus() if g.fp8} == {"l4", "l40s", "h100-80gb", "h200"}
    for g in list_gpus():
        assert g.fp8 == (float(g.compute_capability) >= 8.9)


def test_gpu_memory_is_below_marketing_size():
    assert 22 * 2**30 < get_gpu("l4").memory_bytes < 23 * 2**30  # 23034 MiB
    assert get_gpu("h200").memory_bytes > 140 * 2**30


def test_cpu_tiers_and_allocatable():
    assert [t.memory_gib for t in list_cpu_tiers()] == [4, 8, 16, 32]
    tier = get_cpu_tier("cpu-4gb")
    assert tier.reserved_bytes == 2**30 + 100 * 2**20  # 25 % of 4 GiB + eviction threshold
    assert 0 < tier.allocatable_bytes < tier.memory_bytes


def test_quant_table_bits_from_ggml_blocks():
    assert ggml_type_bits("Q4_0") == 4.5 and ggml_type_bits("Q8_0") == 8.5
    assert ggml_type_bits("Q6_K") == 6.5625 and ggml_type_bits("Q5_1") == 6.0
    assert get_quant("q4_k_m").bits_per_weight == 4.85
    assert get_quant("Q5_K_M").bits_per_weight == 5.69


def test_prequantized_formats_are_flagged():
    assert get_quant("awq").needs_prequantized_checkpoint and get_quant("gptq").needs_prequantized_checkpoint
    assert not get_quant("fp8").needs_prequantized_checkpoint and get_quant("fp8").requires_fp8_gpu
    assert {q.id for q in list_quants("gguf")} == {"Q4_0", "Q4_K_M", "Q5_K_M", "Q5_1", "Q8_0", "F16"}
    assert {q.id for q in list_quants("onnx")} == {"cpu-int4", "gpu-int4"}


@pytest.mark.parametrize("path", sorted(CATALOG_DIR.glob("*.yaml")) + [CATALOG_DIR.parent / "versions.yaml"],
                         ids=lambda p: p.name)
def test_data_files_load_alike_with_libyaml_and_pure_python(path):
    """The catalog and versions.yaml are read with libyaml's loader where PyYAML has it: the same data, types
    included, as the pure-Python SafeLoader gives."""
    import yaml

    def typed(value):
        if isinstance(value, dict):
            return [(typed(k), typed(v)) for k, v in value.items()]
        if isinstance(value, list):
            return [typed(v) for v in value]
        return (type(value).__name__, value)

    text = path.read_text(encoding="utf-8")
    assert typed(yaml.load(text, Loader=yaml.CSafeLoader)) == typed(yaml.safe_load(text))
