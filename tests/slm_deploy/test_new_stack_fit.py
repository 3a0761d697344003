"""new-stack checks the fit as soon as the model and the hardware are known, after every size answer, and
says it in the words of its questions (issue #16): errors name the question and the answer typed, what would
fit is an answer to a question (offered as its default), never a stack-file key the user did not type."""
from __future__ import annotations

import copy

import pytest
import yaml

from slm_deploy.scaffold_fit import fit_verdict, fitting_answers, put_answer
from stacks.errors import ConfigError
from stacks.loader import load_stack
from tests.slm_deploy.test_new_stack import _config, _new_stack

STACK_KEYS = ("maxModelLen", "docker.memoryGb", "server.contextLength", "numParallel", "hardwareTier", "maxLength",
              "gpuCount", "tensorParallelSize", "num_ctx", "vllm[0]", "slm-deploy:")


def _before(err: str, first: str, then: str) -> bool:
    return err.index(first) < err.index(then)


def test_a_context_above_the_models_maximum_is_an_error_on_that_answer(scratch_project):
    proc = _new_stack(scratch_project, answers=["g", "vllm-gpu", "", "a10g", "qwen3-14b", "", "200000", "32768", "",
                                                "none", "y"])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "error: context_length = '200000': above qwen3-14b's maximum context of 40960 tokens" in err
    assert _before(err, "context_length = '200000'", "Requests served at once")  # at once, not at the end
    assert not [k for k in STACK_KEYS if k in err], err


def test_the_sizing_plan_is_shown_as_soon_as_model_and_gpu_are_known(scratch_project):
    proc = _new_stack(scratch_project, answers=["g", "vllm-gpu", "", "l4", "qwen3-8b", "", "", "", "none", "y"])
    assert proc.returncode == 0, proc.stderr
    plan = "sizing   qwen3-8b: qwen3-8b bf16 -> 2x L4, TP 2, max-model-len 8192, max-num-seqs 19 (the fewest l4 GPUs"
    assert plan in proc.stderr and _before(proc.stderr, plan, "Weight format")


def test_a_format_the_gpu_cannot_run_is_an_error_on_the_format_answer(scratch_project):
    proc = _new_stack(scratch_project, answers=["g", "vllm-gpu", "", "a10g", "qwen3-4b", "fp8", "bf16", "", "", "none",
                                                "y"])
    assert proc.returncode == 0, proc.stderr
    assert "error: quantization = 'fp8': fp8 needs an Ada/Hopper GPU" in proc.stderr
    assert _before(proc.stderr, "quantization = 'fp8'", "Context length in tokens")
    [service] = _config(scratch_project, "g")["slm-deploy:vllm"]
    assert service["quantization"] == "bf16"


def test_a_model_that_fits_only_with_a_shorter_context_gets_it_as_the_next_default(scratch_project):
    """qwen3-8b on an 8 GB laptop: said right after the model answer, in question words; Enter takes the context
    that fits."""
    proc = _new_stack(scratch_project, answers=["lap", "ollama-docker", "", "8", "qwen3-8b", "", "", "", "", "y"])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    note = ("note: with host_memory_gb 8, model qwen3-8b and the defaults of the questions to come, it does not fit "
            "yet: qwen3-8b Q4_K_M needs ")
    assert note in err and _before(err, note, "Weight format")
    assert "at context_length 4096 × concurrency 1" in err and "but host_memory_gb is 8" in err
    assert "What would fit: a shorter context: context_length 2048; a bigger host: host_memory_gb 16" in err
    assert "Context length in tokens (prompt + answer) [2048]" in err
    assert "error:" not in err and not [k for k in STACK_KEYS if k in err], err
    assert _config(scratch_project, "lap")["slm-deploy:ollama"]["server"] == {"contextLength": 2048}


def test_a_format_too_big_for_the_host_is_asked_again_with_one_that_can_fit(scratch_project):
    proc = _new_stack(scratch_project, answers=["lap", "ollama-docker", "", "8", "qwen3-8b", "Q8_0", "", "", "", "",
                                                "y"])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert ("error: quantization = 'Q8_0': does not fit: qwen3-8b Q8_0 needs 9.5 GiB at context_length 4096 × "
            "concurrency 1") in err
    assert "; or quantization Q4_K_M with a smaller context_length" in err
    assert err.count("Weight format") == 2 and "Change the answers" not in err  # only this question again
    assert _config(scratch_project, "lap")["slm-deploy:ollama"]["models"] == ["qwen3-8b"]
    assert not [k for k in STACK_KEYS if k in err], err


def test_a_model_no_answer_to_come_can_fit_is_an_error_on_the_model_answer(scratch_project):
    proc = _new_stack(scratch_project, answers=["e", "onnx-edge", "ssh://slm@box", "4", "phi-4-mini-instruct",
                                                "16", "", "", "", "", "y"])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert ("error: model = 'phi-4-mini-instruct': does not fit: Phi-4-mini-instruct cpu-int4 needs " in err
            and "host_memory_gb 4 leaves " in err and "a bigger host: host_memory_gb 8" in err), err
    assert _before(err, "model = 'phi-4-mini-instruct'", "Change the answers that decide the size")
    assert _before(err, "Change the answers that decide the size", "Weight format")
    [node] = _config(scratch_project, "e")["slm-deploy:onnxEdge"]
    assert node["hardwareTier"] == "cpu-16gb"
    assert not [k for k in STACK_KEYS if k in err], err


@pytest.mark.parametrize(("engine", "config"), [
    ("vllm", {"slm-deploy:target": "kubernetes", "slm-deploy:namespace": "n",
              "slm-deploy:vllm": [{"name": "m", "model": "qwen3-14b", "gpu": "a10g", "maxModelLen": 40960,
                                   "concurrency": 64}]}),
    ("vllm", {"slm-deploy:target": "kubernetes", "slm-deploy:namespace": "n",
              "slm-deploy:vllm": [{"name": "m", "model": "qwen3-8b", "gpu": "l4", "concurrency": 8}]}),
    ("ollama", {"slm-deploy:target": "docker", "slm-deploy:docker": {"host": "unix:///var/run/docker.sock",
                                                                     "memoryGb": 8},
                "slm-deploy:ollama": {"models": ["qwen3-8b"], "server": {"contextLength": 4096},
                                      "webui": {"enabled": True}, "dockerUser": "10001:10001"}}),
    ("onnx", {"slm-deploy:target": "docker", "slm-deploy:docker": {"host": "ssh://a@b", "memoryGb": 8},
              "slm-deploy:onnxEdge": [{"name": "e", "model": "phi-4-mini-instruct", "hardwareTier": "cpu-8gb",
                                       "maxLength": 4096, "concurrency": 2}]}),
])
def test_the_question_verdict_is_the_loaders_verdict(scratch_project, engine, config):
    """new-stack's early check sizes the draft with the component's own Args and sizing: it says "does not fit"
    exactly when the stack loader refuses the draft, and every answer it offers makes the loader accept it."""
    def loads(values: dict) -> bool:
        (scratch_project / "stacks" / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": values}))
        try:
            load_stack("t", scratch_project, offline=True)
            return True
        except ConfigError:
            return False

    verdict = fit_verdict(engine, config)
    assert (verdict is None) == loads(config)
    if verdict is None:
        return
    for question, value in verdict.answers:
        if question in ("gpu", "host_memory_gb"):
            continue  # hardware answers are not draft edits: the template derives memoryGb and hardwareTier
        changed = copy.deepcopy(config)
        put_answer(engine, changed, question, value)
        assert fit_verdict(engine, changed) is None and loads(changed), (question, value)
    way = fitting_answers(engine, config, {"context_length", "concurrency"}, [])
    if way is not None:
        changed = copy.deepcopy(config)
        for question, value in way.items():
            put_answer(engine, changed, question, value)
        assert loads(changed)
