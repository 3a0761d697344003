"""Every fit error names the stack keys the user can change, with the value that would fit, never the engine's
own words (issue #16): vLLM (maxModelLen, concurrency, gpuCount, quantization, kvCacheDtype, gpu), Ollama on a
Docker host (server.contextLength, server.numParallel, models, docker.memoryGb), ONNX edge nodes (maxLength,
concurrency, hardwareTier). Each value a message offers is checked to fit by validating the stack entry again."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from components.ollama import OllamaStackArgs
from components.onnx_edge import OnnxEdgeNodeArgs
from components.sizing import ENGINE_FIXES, report
from components.vllm import VllmServiceArgs

ENGINE_WORDS = ("--max-model-len", "--max-num-seqs", "--tensor-parallel-size", "--kv-cache-dtype",
                "--gpu-memory-utilization", "num_ctx", "OLLAMA_", "max_length")


def _vllm_error(**kw) -> str:
    with pytest.raises(ValidationError) as exc:
        VllmServiceArgs.model_validate({"name": "svc", **kw})
    return str(exc.value).splitlines()[1]


def _fixes(message: str) -> list[str]:
    return message.split("What would fit: ", 1)[1].split(" [type=")[0].split("; ")


def test_vllm_fit_error_names_stack_keys_with_values_that_fit():
    entry = {"model": "qwen3-8b", "gpu": "l4", "gpuCount": 1, "maxModelLen": 32768, "concurrency": 8}
    msg = _vllm_error(**entry)
    assert "KV at maxModelLen 32768 × concurrency 8" in msg and "at gpuMemoryUtilization 0.9" in msg
    assert not [w for w in ENGINE_WORDS if w in msg], msg
    fixes = _fixes(msg)
    assert fixes, msg
    for fix in fixes:  # "a shorter context: maxModelLen: 4096", "a bigger GPU: gpu: l40s", ...
        found = re.fullmatch(r"[A-Za-z0-9 ]+: (\w+): ([\w.-]+)(?: \(tensorParallelSize: (\d+)\))?", fix)
        assert found, fix
        key, value, tp = found.groups()
        changed = {**entry, key: int(value) if value.isdigit() else value}
        if tp:
            changed["tensorParallelSize"] = int(tp)
        assert VllmServiceArgs.model_validate({"name": "svc", **changed}).plan.fits, fix


def test_vllm_fit_error_offers_a_bigger_gpu_as_the_gpu_key():
    msg = _vllm_error(model="qwen3-14b", gpu="l4", gpuCount=1, maxModelLen=32768, concurrency=8)
    assert "a bigger GPU: gpu: h100-80gb" in msg and "more GPUs: gpuCount: 4 (tensorParallelSize: 4)" in msg


def _ollama(memory_gb: float, **server) -> str:
    values = {"models": ["qwen3:8b-q8_0"], "server": server, "dockerUser": "10001:10001"}
    args = OllamaStackArgs.model_validate(values)
    with pytest.raises(ValueError) as exc:
        args.check_fits(memory_gb)
    return str(exc.value)


def test_ollama_fit_error_names_server_keys_and_model_tags_with_values_that_fit():
    msg = _ollama(14, contextLength=16384, numParallel=2)
    assert "(server.contextLength 16384 × server.numParallel 2, server.maxLoadedModels 1)" in msg
    assert "docker.memoryGb is 14" in msg
    assert not [w for w in ENGINE_WORDS if w in msg], msg
    fixes = dict(f.split(": ", 1) for f in _fixes(msg))
    assert fixes["a smaller quantization"] == "models: qwen3:8b-q4_K_M instead of qwen3:8b-q8_0"
    server = {"contextLength": 16384, "numParallel": 2}
    for label, change in fixes.items():
        key, value = change.split(": ", 1)
        values = {"models": ["qwen3:8b-q8_0"], "server": dict(server), "dockerUser": "10001:10001"}
        memory = 14.0
        if key == "server.kvCacheType":
            assert value == "q8_0 with server.flashAttention: true", value
            values["server"].update(kvCacheType="q8_0", flashAttention=True)
        elif key.startswith("server."):
            values["server"][key.removeprefix("server.")] = int(value)
        elif key == "models":
            values["models"] = [value.split(" instead of ")[0]]
        elif key == "docker.memoryGb":
            memory = float(value)
        else:
            raise AssertionError(f"unexpected key in {label}: {change}")
        assert OllamaStackArgs.model_validate(values).host_fit(memory).fits, change


def test_ollama_fewer_parallel_requests_is_offered_when_one_fits():
    msg = _ollama(16, contextLength=8192, numParallel=8)
    assert "fewer parallel requests: server.numParallel: 4" in msg
    values = {"models": ["qwen3:8b-q8_0"], "server": {"contextLength": 8192, "numParallel": 4}, "dockerUser": "10001:10001"}
    assert OllamaStackArgs.model_validate(values).host_fit(16).fits


def test_onnx_fit_error_names_its_keys_with_values_that_fit():
    entry = {"name": "e", "model": "phi-4-mini-instruct", "hardwareTier": "cpu-8gb", "maxLength": 4096,
             "concurrency": 3}
    with pytest.raises(ValidationError) as exc:
        OnnxEdgeNodeArgs.model_validate(entry)
    msg = str(exc.value).splitlines()[1]
    assert "at maxLength 4096 × concurrency 3" in msg and "hardwareTier cpu-8gb has" in msg
    assert not [w for w in ENGINE_WORDS if w in msg], msg
    for fix in _fixes(msg):
        key, value = fix.split(": ", 1)[1].split(": ")
        changed = {**entry, key: int(value) if value.isdigit() else value}
        OnnxEdgeNodeArgs.model_validate(changed)  # fits: no error


@pytest.mark.parametrize("engine", ["vllm", "ollama", "onnx"])
def test_every_fix_the_sizing_model_offers_has_stack_words(engine):
    """A new kind of fix in components/sizing must get its stack-file key (or be dropped from messages
    silently): each engine's readers declare the settings they word."""
    from components.ollama.args import STACK_WORDS as OLLAMA
    from components.onnx_edge.args import STACK_WORDS as ONNX
    from components.vllm.args import STACK_WORDS as VLLM

    words = {"vllm": VLLM, "ollama": {**OLLAMA, "quantization": ""}, "onnx": ONNX}[engine]
    assert set(words) == ENGINE_FIXES[engine], engine
    plan = {"vllm": lambda: report("vllm", "qwen3-14b", gpu="l4", gpu_count=1, max_model_len=40960, concurrency=8),
            "ollama": lambda: report("ollama", "qwen3-8b", quantization="Q8_0", num_ctx=16384, num_parallel=4,
                                     host_memory_bytes=8 * 2**30),
            "onnx": lambda: report("onnx", "phi-4-mini-instruct", max_length=4096, concurrency=3,
                                   host_memory_bytes=6 * 2**30)}[engine]()
    assert not plan.fits and {f.setting for f in plan.fixes} <= ENGINE_FIXES[engine] | {"model"}
