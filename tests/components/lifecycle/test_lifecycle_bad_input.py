"""Bad lifecycle input (issue 15): one located line with exit 2 through the real CLI, and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_stack
from tests.run_cli import run_cli

HEAD = "config:\n  slm-deploy:namespace: t\n"
CLUSTER = "  slm-deploy:cluster:\n    rwxStorageClass: nfs\n"
ONE = "  slm-deploy:vllm:\n    - name: phi\n      model: phi-4-mini-instruct\n"

CASES = {
    "surge without spare capacity": (
        HEAD + CLUSTER + ONE + "      rollout: surge\n", 8,
        "slm-deploy:vllm[0].rollout = 'surge': surge starts a new pod (1 GPU) before an old one stops, and "
        "cluster.spareGpus is 0: declare the spare capacity (cluster.spareGpus), or choose rollout recreate"),
    "canary without a gateway": (
        HEAD + ONE + "      canary: 10\n      canaryRevision: " + "b" * 40 + "\n", 6,
        "slm-deploy:vllm[0].canary = 10: a canary needs the model gateway in front of the model, and this stack has "
        "none (gateway.enabled)"),
    "canary without its revision": (
        HEAD + CLUSTER + ONE + "      canary: 10\n  slm-deploy:gateway:\n    enabled: true\n", 8,
        "slm-deploy:vllm[0].canary = 10: a canary needs canaryRevision, the 40-hex commit sha its share of requests is "
        "served by"),
    "canary revision without a percentage": (
        HEAD + CLUSTER + ONE + "      canaryRevision: " + "b" * 40 + "\n  slm-deploy:gateway:\n    enabled: true\n", 8,
        "slm-deploy:vllm[0].canaryRevision = '" + "b" * 40 + "': canaryRevision needs canary, the percentage (0-100)"),
    "canary of the stable revision": (
        HEAD + CLUSTER + ONE + "      canary: 10\n      canaryRevision: 5a149550068a1eb93398160d8953f5f56c3603e9\n"
        "  slm-deploy:gateway:\n    enabled: true\n", 9,
        "slm-deploy:vllm[0].canaryRevision = '5a149550068a1eb93398160d8953f5f56c3603e9': canaryRevision is the stable "
        "revision already"),
    "canary revision not a sha": (
        HEAD + CLUSTER + ONE + "      canary: 10\n      canaryRevision: main\n  slm-deploy:gateway:\n    enabled: true\n", 9,
        "slm-deploy:vllm[0].canaryRevision = 'main': must be a 40-hex commit sha"),
    "canary above 100": (
        HEAD + ONE + "      canary: 120\n", 6, "slm-deploy:vllm[0].canary = 120: Input should be less than or equal to 100"),
    "canary below 0": (
        HEAD + ONE + "      canary: -5\n", 6, "slm-deploy:vllm[0].canary = -5: Input should be greater than or equal to 0"),
    "mirror not https": (
        HEAD + ONE + "      source:\n        mirror: http://hf-mirror.internal\n", 7,
        "slm-deploy:vllm[0].source.mirror = 'http://hf-mirror.internal': must be an https:// URL"),
    "pre-filled claim with a download source": (
        HEAD + ONE + "      source:\n        prefilledClaim: weights\n        mirror: https://hf-mirror.internal\n", 6,
        "slm-deploy:vllm[0].source: prefilledClaim 'weights' is a pre-filled cache, nothing is downloaded: remove mirror"),
    "benchmark without the model's server": (
        HEAD + "  slm-deploy:ollama:\n    models: [qwen3:0.6b]\n  slm-deploy:benchmark: {}\n", 5,
        "slm-deploy:benchmark: benchmark runs vLLM's load generator (vllm bench serve) against the stack's vLLM "
        "services, and this stack has none"),
    "benchmark naming no served model": (
        HEAD + ONE + "  slm-deploy:benchmark:\n    services: [qwen]\n", 7,
        "slm-deploy:benchmark.services[0] = 'qwen': no vllm service is named 'qwen'; the stack serves phi"),
    "multi-replica without a shared cache": (
        HEAD + ONE + "      maxReplicas: 3\n", 6,
        "slm-deploy:vllm[0].maxReplicas = 3: 3 replicas spread over nodes, and serving pods never download: the model "
        "cache must be ReadWriteMany"),
    "per-pod cache": (
        HEAD + CLUSTER + ONE + "      modelCache: per-pod\n", 8,
        "modelCache per-pod would make every serving pod download the model"),
    "egress CIDRs without a private source": (
        HEAD + ONE + "      source:\n        egressCidrs: [10.1.0.0/16]\n", 6,
        "egressCidrs are the addresses of a private mirror or S3 endpoint"),
    "s3 endpoint not https": (
        HEAD + ONE + "      source:\n        s3:\n          endpoint: http://minio:9000\n          bucket: models\n"
        "          prefix: phi\n          credentialsSecret: s3\n", 8,
        "slm-deploy:vllm[0].source.s3.endpoint = 'http://minio:9000': must be an https:// URL"),
}


# One case runs in a real `python -m slm_deploy` process (what a shell sees: exit code, stderr, no traceback);
# the others run the same CLI in this process (tests/run_cli.py), without ~2 s of imports each.
IN_A_PROCESS = "s3 endpoint not https"


def _cli(case: str, *args: str) -> subprocess.CompletedProcess[str]:
    if case != IN_A_PROCESS:
        return run_cli(*args, cwd=REPO)
    return subprocess.run([sys.executable, "-m", "slm_deploy", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ}, check=False, timeout=300)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_lifecycle_input_is_one_located_line_exit_2_nothing_written(scratch_project: Path, case: str):
    text, line, expected = CASES[case]
    write_stack(scratch_project, "t", text)
    out = scratch_project / "out"
    proc = _cli(case, "-C", str(scratch_project), "preview", "t", "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: stacks/Pulumi.t.yaml:{line}: "), lines[0]
    assert expected in lines[0], lines[0]
    assert not out.exists()
