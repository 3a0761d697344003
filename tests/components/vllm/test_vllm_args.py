"""VllmServiceArgs validation: one test per rule, matching the message; plus the located config error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.vllm import VllmServiceArgs
from stacks.loader import load_stack
from stacks.errors import ConfigError
from stacks.schema import StackConfig
from tests.conftest import write_stack

BASE = {"name": "svc", "model": "phi-4-mini-instruct"}


def _err(**kw) -> str:
    with pytest.raises(ValidationError) as exc:
        VllmServiceArgs.model_validate({**BASE, **kw})
    return str(exc.value)


def test_defaults_are_sized():
    a = VllmServiceArgs.model_validate(BASE)
    assert a.plan.gpu_count == 1 and a.plan.tensor_parallel_size == 1
    assert a.plan.max_model_len == 8192
    assert a.checkpoint == ("microsoft/Phi-4-mini-instruct", "5a149550068a1eb93398160d8953f5f56c3603e9")


def test_gpu_count_not_divisible_by_tp():
    msg = _err(gpuCount=4, tensorParallelSize=3)
    assert "gpuCount 4 is not divisible by tensorParallelSize 3" in msg
    assert "1, 2, 4" in msg


def test_more_gpus_than_one_node_points_at_leaderworkerset():
    assert "LeaderWorkerSet" in _err(gpuCount=16, tensorParallelSize=16)


def test_does_not_fit_says_what_would_fit():
    msg = _err(model="qwen3-14b", gpu="l4", gpuCount=1, maxModelLen=32768, concurrency=16)
    assert "does not fit" in msg
    assert "GiB" in msg and "What would fit" in msg


def test_unknown_engine_flag_suggests():
    msg = _err(extraArgs=["--max-num-batched-token", "8192"])
    assert "unknown vLLM v0.11.0 flag --max-num-batched-token" in msg
    assert "did you mean --max-num-batched-tokens" in msg


def test_component_owned_flag_names_the_arg():
    assert "use the `maxModelLen` Arg" in _err(extraArgs=["--max-model-len=4096"])
    assert "auth proxy" in _err(extraArgs=["--api-key", "x"])


def test_awq_on_a_checkpoint_not_quantized_that_way():
    msg = _err(quantization="awq")
    assert "needs an AWQ checkpoint" in msg and "a AWQ" not in msg and "microsoft/Phi-4-mini-instruct is not quantized that way" in msg


def test_awq_override_repo_must_be_awq():
    msg = _err(model="qwen3-8b", quantization="awq", hfRepo="someone/Qwen3-8B-finetune", revision="a" * 40)
    assert "is not named as one" in msg


def test_context_above_model_maximum():
    msg = _err(model="qwen3-8b", maxModelLen=65536)
    assert "maxModelLen 65536 is above qwen3-8b's maximum context of 40960" in msg


def test_tool_calling_without_known_parser():
    msg = _err(model="smollm2-1.7b-instruct", toolCalling=True)
    assert "no known tool-call parser for smollm2-1.7b-instruct" in msg


def test_cuda_image_with_cpu_device():
    assert "is a CUDA build and cannot serve device cpu" in _err(device="cpu")


def test_hf_repo_needs_revision():
    assert "needs revision" in _err(hfRepo="me/phi-4-mini-ft")


def test_revision_must_be_a_sha():
    assert "must be a 40-hex commit sha" in _err(hfRepo="me/phi-4-mini-ft", revision="main")


def test_unknown_catalog_model():
    assert "unknown model 'phi-4-mini'" in _err(model="phi-4-mini")


def test_max_replicas_below_replicas():
    assert "maxReplicas 1 is below replicas 2" in _err(replicas=2, maxReplicas=1)


def test_scale_to_zero_needs_activation_query():
    assert "scaleToZero needs activationQuery" in _err(scaleToZero=True)


def _stack(**kw) -> dict:
    return {"target": "kubernetes", **kw}


def test_schema_rejects_vllm_on_docker_target():
    with pytest.raises(ValidationError, match="vllm services need target kubernetes"):
        StackConfig.model_validate(_stack(target="docker", vllm=[BASE]))


def test_schema_rejects_duplicate_names():
    with pytest.raises(ValidationError, match="'svc' is already the name of vllm\\[0\\]"):
        StackConfig.model_validate(_stack(vllm=[BASE, BASE]))


def test_schema_rejects_shared_rwo_cache_with_replicas():
    with pytest.raises(ValidationError, match="the model cache must be ReadWriteMany; set cluster.rwxStorageClass"):
        StackConfig.model_validate(_stack(vllm=[{**BASE, "maxReplicas": 3, "modelCache": "shared"}]))


def test_schema_rejects_scale_to_zero_without_keda():
    with pytest.raises(ValidationError, match="scaleToZero needs cluster.keda true"):
        StackConfig.model_validate(_stack(cluster={"rwxStorageClass": "nfs"},
                                          vllm=[{**BASE, "maxReplicas": 3, "scaleToZero": True, "activationQuery": "up"}]))


def test_located_one_line_error(scratch_project):
    write_stack(scratch_project, "bad", (
        "config:\n"
        "  slm-deploy:vllm:\n"
        "    - name: svc\n"
        "      model: phi-4-mini-instruct\n"
        "      gpuCount: 4\n"
        "      tensorParallelSize: 3\n"
    ))
    with pytest.raises(ConfigError) as exc:
        load_stack("bad", scratch_project)
    lines = str(exc.value).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("stacks/Pulumi.bad.yaml:3: slm-deploy:vllm[0]")
    assert "gpuCount 4 is not divisible by tensorParallelSize 3" in lines[0]


def test_catalog_without_pinned_revision_needs_one():
    assert "the catalog pins no revision for meta-llama" in _err(model="llama-3.2-1b-instruct")
    VllmServiceArgs.model_validate({**BASE, "model": "llama-3.2-1b-instruct", "revision": "c" * 40})


def test_gptq_article():
    msg = _err(quantization="gptq")
    assert "needs a GPTQ checkpoint" in msg


def test_memory_limit_below_request():
    msg = _err(memoryRequest="20Gi", memoryLimit="16Gi")
    assert "memoryLimit 16Gi is below the memory request 20Gi" in msg


def test_memory_limit_below_plan_need_says_the_numbers():
    # phi-4-mini bf16: plan request 8Gi (4 GiB + half of 7.1 GiB weights) + 2Gi shm = 10 GiB
    msg = _err(memoryRequest="6Gi", memoryLimit="8Gi")
    assert "memoryLimit 8Gi (8.0 GiB) is below what the server needs on the host" in msg
    assert "8Gi (4 GiB + half of" in msg and "+ 2Gi /dev/shm = 10.0 GiB" in msg


def test_memory_limit_alone_below_default_request():
    assert "is below the memory request 10Gi" in _err(memoryLimit="9Gi")


@pytest.mark.parametrize("field,value,kind", [("cpuRequest", "lots", "CPU"), ("memoryRequest", "16GB", "memory"),
                                              ("memoryLimit", "-1Gi", "memory")])
def test_bad_quantity(field, value, kind):
    assert f"must be a {kind} quantity" in _err(**{field: value})


def test_memory_below_one_gib():
    assert "below 1 GiB" in _err(memoryRequest="512Mi")


def test_overrides_accepted_and_defaults_from_plan():
    a = VllmServiceArgs.model_validate({**BASE, "cpuRequest": "3500m", "memoryLimit": "32Gi"})
    assert a.container_cpu == "3500m" and a.container_memory == ("10Gi", "32Gi")
    assert VllmServiceArgs.model_validate(BASE).container_memory == ("10Gi", "14Gi")


def test_extra_args_stray_positional_is_located():
    msg = _err(extraArgs=["--swap-space", "4", "oops"])
    assert "extraArgs[2] 'oops': stray value; --swap-space takes a number" in msg


def test_extra_args_wrong_type_is_located():
    assert "extraArgs[0] '--max-num-batched-tokens': --max-num-batched-tokens takes an integer" in _err(
        extraArgs=["--max-num-batched-tokens", "abc"])


def test_does_not_fit_suggests_stack_keys_not_engine_flags():
    """The user fixes a stack file: suggestions name maxModelLen / tensorParallelSize, never --max-model-len."""
    msg = _err(model="phi-4-mini-instruct", gpu="l4", gpuCount=1, maxModelLen=131072, concurrency=8)
    assert "a shorter context: maxModelLen: " in msg and "tensorParallelSize: " in msg
    for flag in ("--max-model-len", "--tensor-parallel-size", "--kv-cache-dtype", "--gpu-memory-utilization"):
        assert flag not in msg, msg
