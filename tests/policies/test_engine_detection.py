"""Which containers of a vLLM image run the engine: the GPU, /dev/shm, startup-probe and revision rules judge
only those, so the same image downloading a model or running `vllm bench serve` in a Job is not a GPU server."""
from __future__ import annotations

import pytest

from policies.rules import Status, gpu_scheduling, model_revision, vllm_shm, vllm_startup_probe
from policies.rules._identify import runs_vllm_engine

CUDA = "docker.io/vllm/vllm-openai:v0.11.0@sha256:" + "0" * 64
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize("image, argv, engine", [
    (CUDA, [], True),
    (CUDA, ["--model", "org/m"], True),
    (CUDA, ["vllm", "serve", "org/m"], True),
    (CUDA, ["/usr/local/bin/vllm", "run-batch", "-i", "in.jsonl"], True),
    ("python:3.12", ["python3", "-m", "vllm.entrypoints.openai.api_server"], True),
    ("example.org/engine:1", ["vllm", "serve", "org/m"], True),
    (CUDA, ["hf", "download", "org/m", "--revision", SHA], False),
    (CUDA, ["python3", "/opt/slm-deploy/verify_download.py", "--repo", "org/m"], False),
    (CUDA, ["/bin/sh", "-c", "set -eu; export K=1; vllm bench serve --model /models/x; exec python3 r.py"], False),
    ("python:3.12", [], False),
])
def test_runs_vllm_engine(image, argv, engine):
    assert runs_vllm_engine(image, argv) is engine


def _job(argv: list[str], **container) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": CUDA, "command": argv[:1], "args": argv[1:], **container}]}}}}


def test_a_download_or_benchmark_job_of_the_cuda_image_is_not_judged_as_a_gpu_server():
    for argv in (["hf", "download", "org/m", "--revision", SHA],
                 ["/bin/sh", "-c", "vllm bench serve --model /models/hub/x --served-model-name m"]):
        job = _job(argv)
        for rule in (gpu_scheduling, vllm_shm, vllm_startup_probe):
            assert rule.evaluate(job).status is Status.NOT_APPLICABLE, (rule.__name__, argv)


def test_the_engine_in_a_job_still_needs_a_gpu_and_a_pinned_revision():
    job = _job(["vllm", "run-batch", "--model", "org/m", "-i", "in.jsonl"])
    result = gpu_scheduling.evaluate(job)
    assert result.status is Status.FAILED and "sets no nvidia.com/gpu limit" in result.reasons[0]
    assert model_revision.evaluate(job).status is Status.FAILED
