"""The benchmark report writer runs for real on a vllm bench serve result, writing to a stand-in API server."""

from __future__ import annotations

import json
import subprocess
import sys

from components.lifecycle.scripts import SCRIPTS_DIR
from standin_http import Reply, serve

SCRIPT = SCRIPTS_DIR / "bench_report.py"
# The keys vLLM 0.11.0's `vllm bench serve --save-result --percentile-metrics ttft,tpot,itl
# --metric-percentiles 50,95` writes (vllm/benchmarks/serve.py: result dict + process_one_metric).
RESULT = {
    "date": "20261130-213000", "backend": "openai-chat", "model_id": "microsoft/Phi-4-mini-instruct",
    "num_prompts": 64, "request_rate": "inf", "burstiness": 1.0, "max_concurrency": 11, "duration": 41.7,
    "completed": 64, "total_input_tokens": 65536, "total_output_tokens": 8192, "request_throughput": 1.53,
    "request_goodput": None, "output_throughput": 196.4, "total_token_throughput": 1768.0,
    "max_output_tokens_per_s": 260.0, "max_concurrent_requests": 11,
    "mean_ttft_ms": 310.0, "median_ttft_ms": 290.5, "std_ttft_ms": 40.0, "p50_ttft_ms": 290.5, "p95_ttft_ms": 402.0,
    "mean_tpot_ms": 52.0, "median_tpot_ms": 51.0, "std_tpot_ms": 3.0, "p50_tpot_ms": 51.0, "p95_tpot_ms": 58.0,
    "mean_itl_ms": 51.5, "median_itl_ms": 50.0, "std_itl_ms": 6.0, "p50_itl_ms": 50.0, "p95_itl_ms": 61.0,
}
PREDICTED = {"concurrency": 11, "maxConcurrency": 11, "itlP50Ms": 25.0, "outputTokensPerSecond": 440.0}


def files(tmp_path, result=RESULT, predicted=PREDICTED):
    (tmp_path / "result.json").write_text(json.dumps(result))
    (tmp_path / "predicted.json").write_text(json.dumps(predicted))
    (tmp_path / "token").write_text("sa-token\n")
    return ["--result", str(tmp_path / "result.json"), "--predicted", str(tmp_path / "predicted.json"),
            "--model", "phi4-mini"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def test_report_goes_to_the_log_and_is_merge_patched_into_the_configmap(tmp_path):
    with serve(lambda req: Reply(200, {"kind": "ConfigMap"})) as api:
        done = run(*files(tmp_path), "--configmap", "phi4-mini-benchmark", "--namespace", "slm-staging",
                   "--api-server", api.url, "--token-file", str(tmp_path / "token"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = next(json.loads(line) for line in done.stdout.splitlines() if line.startswith("{"))
    assert report["measured"]["ttftP50Ms"] == 290.5 and report["measured"]["ttftP95Ms"] == 402.0
    assert report["measured"]["itlP50Ms"] == 50.0 and report["measured"]["outputTokensPerSecond"] == 196.4
    assert report["measuredOverPredicted"] == {"itlP50Ms": 2.0, "maxConcurrency": 1.0,
                                               "outputTokensPerSecond": round(196.4 / 440.0, 3)}
    assert report["failedRequests"] == 0
    assert any(line.startswith("benchmark: ttftP95Ms") and "402" in line for line in done.stdout.splitlines())
    (patch,) = api.seen
    assert patch.method == "PATCH" and patch.path == "/api/v1/namespaces/slm-staging/configmaps/phi4-mini-benchmark"
    assert patch.headers["content-type"] == "application/merge-patch+json"
    assert patch.headers["authorization"] == "Bearer sa-token"
    assert json.loads(json.loads(patch.body)["data"]["result.json"]) == report


def test_failed_benchmark_requests_fail_the_job(tmp_path):
    done = run(*files(tmp_path, {**RESULT, "completed": 60}))
    assert done.returncode == 1
    assert "benchmark: FAIL 4 of 64 benchmark requests failed" in done.stdout


def test_a_result_without_the_percentiles_says_which_flags_are_missing(tmp_path):
    done = run(*files(tmp_path, {k: v for k, v in RESULT.items() if k != "p95_ttft_ms"}))
    assert done.returncode == 1
    assert "the benchmark result has no p95_ttft_ms (run with --percentile-metrics ttft,tpot,itl --metric-percentiles 50,95" in done.stdout


def test_an_api_server_refusal_fails_with_the_reason(tmp_path):
    with serve(lambda req: Reply(403, {"reason": "Forbidden"})) as api:
        done = run(*files(tmp_path), "--configmap", "cm", "--namespace", "ns", "--api-server", api.url,
                   "--token-file", str(tmp_path / "token"))
    assert done.returncode == 1
    assert "benchmark: FAIL cannot write ConfigMap ns/cm: HTTP Error 403" in done.stdout


def test_configmap_without_namespace_is_bad_usage(tmp_path):
    done = run(*files(tmp_path), "--configmap", "cm", "--api-server", "http://127.0.0.1:9")
    assert done.returncode == 2
