"""Sizing is never silent (issue #16): size says where it does and does not fit, the plan line, a warning
when the plan leaves no batching, hardware kinds explained, a hardware command, an ONNX column in models."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from slm_deploy.cli import app


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_size_says_it_does_not_fit_on_one_gpu_but_on_two():
    result = _run("size", "qwen3-8b", "--hardware", "l4")
    assert result.exit_code == 0, result.output
    assert "Verdict: does not fit on 1x l4; fits on 2x l4 (tensor parallel 2)" in result.output
    assert "Plan: qwen3-8b bf16 -> 2x L4, TP 2, max-model-len " in result.output
    data = json.loads(_run("size", "qwen3-8b", "--hardware", "l4", "--json").output)
    assert data["verdict"].startswith("does not fit on 1x l4; fits on 2x l4")
    assert data["plan"] == (f"qwen3-8b bf16 -> 2x L4, TP 2, max-model-len {data['settings']['max_model_len']}, "
                            f"max-num-seqs {data['settings']['max_num_seqs']}")


def test_size_on_one_gpu_just_says_it_fits():
    data = json.loads(_run("size", "phi-4-mini-instruct", "--hardware", "l4", "--json").output)
    assert data["verdict"] == "fits on 1x l4" and data["warnings"] == []


def test_size_warns_when_the_plan_leaves_no_batching():
    result = _run("size", "phi-4-mini-instruct", "--hardware", "l4", "--ctx", "65536", "--concurrency", "1")
    assert "max-num-seqs 1" in result.output and "warning: max-num-seqs 1" in result.output
    assert "no batching" in result.output


def test_a_cpu_tier_for_vllm_says_cpu_tiers_are_for_other_engines():
    result = _run("size", "qwen3-8b", "--hardware", "cpu-8gb")
    assert result.exit_code == 2
    assert "a CPU tier" in result.output and "CPU tiers are for --engine ollama or --engine onnx" in result.output
    assert "did you mean" not in result.output
    gpu_for_ollama = _run("size", "qwen3-8b", "--engine", "ollama", "--hardware", "l4")
    assert gpu_for_ollama.exit_code == 2 and "GPUs are for --engine vllm" in gpu_for_ollama.output


def test_hardware_lists_gpus_and_cpu_tiers():
    result = _run("hardware")
    assert result.exit_code == 0
    assert "GPUs (--engine vllm)" in result.output and "CPU tiers (--engine ollama, --engine onnx)" in result.output
    data = json.loads(_run("hardware", "--json").output)
    assert {"l4", "h100-80gb"} <= {g["id"] for g in data["gpus"]}
    assert {"cpu-8gb"} <= {t["id"] for t in data["cpu_tiers"]}


def test_models_has_an_onnx_column():
    result = _run("models")
    assert "ONNX variants" in result.output
    rows = {r["id"]: r for r in json.loads(_run("models", "--json").output)}
    assert rows["phi-4-mini-instruct"]["onnx_variants"]  # Microsoft publishes ONNX builds of Phi-4-mini
    assert any(not r["onnx_variants"] for r in rows.values())


def test_one_memory_rule_for_a_cpu_tier_and_a_stack_file(scratch_project):
    """`size --engine ollama --hardware cpu-8gb` is sized against 8 GiB, as a stack with docker.memoryGb: 8."""
    from tests.conftest import write_stack
    from stacks.errors import ConfigError
    from stacks.loader import load_stack

    data = json.loads(_run("size", "qwen3-8b", "--engine", "ollama", "--hardware", "cpu-8gb", "--json").output)
    assert data["available_bytes"] == 8 * 1024**3
    write_stack(scratch_project, "t", "config:\n  slm-deploy:target: docker\n  slm-deploy:docker:\n    memoryGb: 2\n"
                "  slm-deploy:ollama:\n    models:\n      - qwen3:8b-q4_K_M\n")
    try:
        load_stack("t", scratch_project)
    except ConfigError as exc:
        assert "docker.memoryGb is 2 (2.0 GiB)" in str(exc)
    else:
        raise AssertionError("qwen3-8b fits in 2 GB?")


def test_one_memory_rule_for_onnx_size_and_an_edge_stack():
    """`size --engine onnx --hardware cpu-8gb` gives the verdict a stack's onnxEdge hardwareTier: cpu-8gb gets."""
    from pydantic import ValidationError

    from components.onnx_edge.args import OnnxEdgeNodeArgs

    data = json.loads(_run("size", "phi-4-mini-instruct", "--engine", "onnx", "--hardware", "cpu-8gb", "--ctx", "2048",
                           "--concurrency", "2", "--json").output)
    assert data["fits"] is False
    try:
        OnnxEdgeNodeArgs.model_validate({"name": "e", "model": "phi-4-mini-instruct", "hardwareTier": "cpu-8gb",
                                         "maxLength": 2048, "concurrency": 2})
    except ValidationError as exc:
        assert "does not fit cpu-8gb" in str(exc)
        assert f"{data['available_bytes'] / 1024**3:.1f} GiB allocatable" in str(exc)
    else:
        raise AssertionError("the stack accepted what size refused")


def test_what_would_fit_is_said_in_size_options_and_each_one_fits():
    """size suggests its own options (--ctx, --concurrency, --quant, --hardware), never engine flags, and
    each suggestion run as size says it fits; a bigger Ollama host is one the 'Fits on' line lists."""
    cases = [("gemma-3-27b-it", "--engine", "vllm", "--hardware", "a10g", "--ctx", "32768", "--concurrency", "64"),
             ("qwen3-8b", "--engine", "ollama", "--hardware", "cpu-8gb", "--ctx", "16384", "--concurrency", "2",
              "--quant", "Q8_0"),
             ("phi-4-mini-instruct", "--engine", "onnx", "--hardware", "cpu-8gb", "--ctx", "4096", "--concurrency", "3")]
    for case in cases:
        data = json.loads(_run("size", *case, "--json").output)
        assert not data["fits"] and data["suggestions"], case
        for suggestion in data["suggestions"]:
            option, value = suggestion.split(": ", 1)[1].split(" ")
            assert option in ("--ctx", "--concurrency", "--quant", "--hardware"), suggestion
            args = list(case)
            args[args.index(option) + 1] = value
            after = json.loads(_run("size", *args, "--json").output)
            assert after["fits"], (case, suggestion)
            if option == "--hardware" and case[2] != "vllm":
                assert value in data["fits_on"], (suggestion, data["fits_on"])
