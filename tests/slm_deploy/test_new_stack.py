"""new-stack asks what the kind uses, checks each answer at once (the stack loader on a draft), asks for
quantization, context and concurrency, shows the sizing verdict before writing (issue #16); --no-input and
--set keep working; cookiecutter renders the file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from stacks.loader import load_stack
from tests.conftest import REPO
from tests.run_cli import run_cli


def _new_stack(project: Path, *args: str, answers: list[str] | None = None,
               process: bool = False) -> subprocess.CompletedProcess[str]:
    """``new-stack`` with ``answers`` typed on stdin (each with its Enter; ``None``: no stdin at all). In this
    process by default (tests/run_cli.py: same prompts, output and exit code); ``process``: a real
    ``python -m slm_deploy`` reading a real stdin pipe."""
    stdin = "".join(f"{a}\n" for a in answers) if answers is not None else None
    if not process:
        return run_cli("-C", str(project), "new-stack", *args, input=stdin, env={"SLM_DEPLOY_PROG": "./dev"}, cwd=REPO)
    env = {**os.environ, "SLM_DEPLOY_PROG": "./dev"}
    return subprocess.run([sys.executable, "-m", "slm_deploy", "-C", str(project), "new-stack", *args],
                          input=stdin, capture_output=True, text=True, cwd=REPO, env=env, check=False,
                          stdin=None if answers is not None else subprocess.DEVNULL)


def _prompts(stderr: str) -> list[str]:
    """The questions asked, in order (each prompt ends with its [default]: )."""
    return [p.rsplit(" [", 1)[0].split("\n")[-1].removeprefix("error: ") for p in stderr.split("]: ")[:-1]]


def _config(project: Path, stack: str) -> dict:
    return yaml.safe_load((project / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_a_gpu_stack_is_asked_only_what_a_gpu_stack_uses(scratch_project: Path):
    proc = _new_stack(scratch_project, answers=["gpu1", "vllm-gpu", "", "l4", "qwen3-4b", "fp8", "16384", "8", "none", "y"])
    assert proc.returncode == 0, proc.stderr
    asked = _prompts(proc.stderr)
    assert [a.split(" (")[0].split(":")[0] for a in asked] == [
        "Stack name", "What the stack deploys", "Kubernetes namespace", "GPU type", "Model", "Weight format",
        "Context length in tokens", "Requests served at once", "Monitoring", "Write stacks/Pulumi.gpu1.yaml with this sizing?"]
    assert "Docker host" not in proc.stderr and "Host memory" not in proc.stderr and "Reviewer" not in proc.stderr
    [service] = _config(scratch_project, "gpu1")["slm-deploy:vllm"]
    assert (service["quantization"], service["maxModelLen"], service["concurrency"]) == ("fp8", 16384, 8)
    # the verdict came before the file was written (and before the confirmation)
    verdict = proc.stderr.index("sizing   qwen3-4b: qwen3-4b fp8 -> ")
    assert verdict < proc.stderr.index("Write stacks/Pulumi.gpu1.yaml with this sizing?")
    assert "Next: ./dev preview gpu1" in proc.stdout


def test_a_docker_stack_is_not_asked_for_a_namespace_gpu_or_monitoring(scratch_project: Path):
    proc = _new_stack(scratch_project, answers=["box", "ollama-docker", "", "16", "qwen3-0.6b", "Q8_0", "8192", "2", "", "y"])
    assert proc.returncode == 0, proc.stderr
    for absent in ("Kubernetes namespace", "GPU type", "Monitoring"):
        assert absent not in proc.stderr
    config = _config(scratch_project, "box")["slm-deploy:ollama"]
    assert config["models"] == ["qwen3:0.6b-q8_0"]  # the chosen quantization as the catalog's pinned tag
    assert config["server"] == {"contextLength": 8192, "numParallel": 2}
    assert load_stack("box", scratch_project).config.ollama.server.num_parallel == 2


def test_each_answer_is_checked_at_once_with_the_loaders_messages(scratch_project: Path):
    proc = _new_stack(scratch_project, answers=[
        "Bad_Name", "chk", "vllm-gpu", "Bad_NS", "slm-chk", "l4", "qwen9", "qwen3-4b", "int3", "", "lots", "", "300",
        "", "none", "y"])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    # each error comes right after its answer, before the next question is asked
    assert err.index("error: stack_name = 'Bad_Name': must be a DNS-1123 label") < err.index("What the stack deploys")
    assert err.index("error: namespace = 'Bad_NS': must be a DNS-1123 label") < err.index("GPU type")
    assert "template refused" not in err  # the loader's validator answered, not the template's hook
    model_error = err.index("error: model = 'qwen9': unknown model 'qwen9'. Did you mean")
    assert model_error < err.index("Weight format")
    assert "error: quantization = 'int3': allowed: bf16, fp16, fp8, awq" in err
    assert "error: context_length = 'lots': must be a whole number" in err
    assert "error: concurrency = '300': Input should be less than or equal to 256" in err
    assert _config(scratch_project, "chk")["slm-deploy:namespace"] == "slm-chk"


def test_qwen3_8b_on_an_8gb_laptop_can_be_generated_with_a_shorter_context(scratch_project: Path):
    """Issue #16: the fit check offers the context that fits as the context question's default (Enter takes it);
    tests/slm_deploy/test_new_stack_fit.py checks the wording."""
    proc = _new_stack(scratch_project, answers=["lap", "ollama-docker", "", "8", "qwen3-8b", "", "", "", "", "y"])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "it does not fit yet" in err and "a shorter context: context_length 2048" in err
    assert "sizing   ollama qwen3-8b: Q4_K_M, context 2048 x 1 parallel -> " in err
    assert _config(scratch_project, "lap")["slm-deploy:ollama"]["server"] == {"contextLength": 2048}
    assert load_stack("lap", scratch_project).config.docker.memory_gb == 8


def test_no_is_a_second_look_at_the_size_and_end_of_input_writes_nothing(scratch_project: Path):
    # a real process reading a real stdin pipe to its end (the others type their answers in-process)
    proc = _new_stack(scratch_project, answers=["e", "onnx-edge", "ssh://slm@box", "8", "", "", "", "", "n"], process=True)
    assert proc.returncode == 2
    assert "Change the answers that decide the size" in proc.stderr
    assert "input ended before every question was answered; nothing was written" in proc.stderr
    assert "./dev new-stack --no-input --set key=value" in proc.stderr
    assert list((scratch_project / "stacks").iterdir()) == []


def test_set_answers_are_not_asked_again(scratch_project: Path):
    proc = _new_stack(scratch_project, "--set", "stack_name=pre", "--set", "kind=ollama-kubernetes",
                      "--set", "model=qwen3-1.7b", answers=["", "", "", "", "none", "y"])
    assert proc.returncode == 0, proc.stderr
    assert "Stack name" not in proc.stderr and "Model (catalog id)" not in proc.stderr
    assert "Kubernetes namespace" in proc.stderr


def test_no_input_with_the_new_questions_and_a_question_the_kind_does_not_use(scratch_project: Path):
    ok = _new_stack(scratch_project, "--no-input", "--set", "stack_name=ni", "--set", "kind=onnx-edge",
                    "--set", "model=phi-4-mini-instruct", "--set", "host_memory_gb=16", "--set", "context_length=2048",
                    "--set", "concurrency=2")
    assert ok.returncode == 0, ok.stderr
    [node] = _config(scratch_project, "ni")["slm-deploy:onnxEdge"]
    assert (node["maxLength"], node["concurrency"], node["hardwareTier"]) == (2048, 2, "cpu-16gb")
    assert "sizing   edge-ni: phi-4-mini-instruct cpu-int4, max length 2048 x 2 -> " in ok.stdout
    wrong = _new_stack(scratch_project, "--no-input", "--set", "stack_name=nw", "--set", "kind=vllm-gpu",
                       "--set", "docker_host=ssh://x@y")
    assert wrong.returncode == 2
    assert "--set docker_host: kind vllm-gpu does not use it; its questions: stack_name, kind, namespace, gpu" in wrong.stderr
    assert not (scratch_project / "stacks" / "Pulumi.nw.yaml").exists()


def test_no_input_draft_errors_name_the_answers_that_decide_them(scratch_project: Path):
    proc = _new_stack(scratch_project, "--no-input", "--set", "stack_name=big", "--set", "kind=ollama-docker",
                      "--set", "model=qwen3-8b", "--set", "host_memory_gb=2")
    assert proc.returncode == 2 and "kept as a draft" in proc.stderr
    assert "(from your answers: host_memory_gb=2, model=qwen3-8b, quantization (default)" in proc.stderr
    # and once more in the words of the --set answers, with the answer that would fit
    assert "In your answers: does not fit: qwen3-8b Q4_K_M needs " in proc.stderr and "host_memory_gb is 2" in proc.stderr
    assert "run `./dev new-stack` again with --set host_memory_gb=16." in proc.stderr


def test_a_gated_model_is_generated_with_a_note_about_its_token(scratch_project: Path):
    proc = _new_stack(scratch_project, "--no-input", "--set", "stack_name=gem", "--set", "model=gemma-3-4b-it")
    assert proc.returncode == 0, proc.stderr
    assert "note: offline, hfToken is a placeholder" in proc.stderr and "secure: <ciphertext>" in proc.stderr
    assert (scratch_project / ".github" / "workflows" / "slm-deploy-gem.yml").exists()
    assert "Next: ./dev preview gem" in proc.stdout
