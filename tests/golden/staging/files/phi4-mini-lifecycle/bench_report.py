"""Put a ``vllm bench serve`` result next to what sizing predicted; write it to the log and a ConfigMap.

Runs in the benchmark Job after ``vllm bench serve --save-result`` (standard library only). Reads the
result JSON that vLLM 0.11.0 writes (vllm/benchmarks/serve.py: ``median_ttft_ms``, ``p95_ttft_ms`` with
``--metric-percentiles 50,95``, ``median_itl_ms``, ``p95_itl_ms``, ``output_throughput``, ``completed``,
``num_prompts``, ``max_concurrency``, ``max_concurrent_requests``) and the prediction file the component
generates from the sizing plan, and prints one JSON report::

    {"model", "measured": {...}, "predicted": {...}, "measuredOverPredicted": {...}, "failedRequests"}

With ``--configmap``, the report is merged into that ConfigMap's ``data["result.json"]`` through the
Kubernetes API (a merge patch; the Job's ServiceAccount may only get/patch that one ConfigMap). Exit 0
when the report was written, 1 when the benchmark had failed requests or the result is unreadable (the log
says which), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
MEASURED = {
    # report key: vllm bench serve result key (vllm/benchmarks/serve.py, process_one_metric and result)
    "ttftP50Ms": "median_ttft_ms",
    "ttftP95Ms": "p95_ttft_ms",
    "itlP50Ms": "median_itl_ms",
    "itlP95Ms": "p95_itl_ms",
    "tpotP50Ms": "median_tpot_ms",
    "outputTokensPerSecond": "output_throughput",
    "totalTokensPerSecond": "total_token_throughput",
    "requestsPerSecond": "request_throughput",
    "peakConcurrentRequests": "max_concurrent_requests",
    "maxConcurrency": "max_concurrency",
    "completed": "completed",
    "prompts": "num_prompts",
    "durationSeconds": "duration",
}


def log(message: str) -> None:
    print(f"benchmark: {message}", flush=True)


def build_report(result: dict, predicted: dict, model: str) -> dict:
    measured = {key: result[src] for key, src in MEASURED.items() if result.get(src) is not None}
    missing = [src for key, src in MEASURED.items() if key in ("ttftP50Ms", "ttftP95Ms", "itlP50Ms", "outputTokensPerSecond")
               and src not in result]
    if missing:
        raise ValueError(f"the benchmark result has no {', '.join(missing)} (run with --percentile-metrics ttft,tpot,itl "
                         "--metric-percentiles 50,95 --save-result)")
    ratios = {}
    for key, value in predicted.items():
        if key in measured and isinstance(value, (int, float)) and value:
            ratios[key] = round(float(measured[key]) / float(value), 3)
    failed = int(result.get("num_prompts") or 0) - int(result.get("completed") or 0)
    return {"model": model, "measured": measured, "predicted": predicted, "measuredOverPredicted": ratios,
            "failedRequests": max(failed, 0)}


def table(report: dict) -> list[str]:
    lines = [f"{'metric':<26}{'measured':>14}{'predicted':>14}"]
    for key, value in report["measured"].items():
        pred = report["predicted"].get(key)
        lines.append(f"{key:<26}{value:>14.6g}{(f'{pred:.6g}' if isinstance(pred, (int, float)) else '-'):>14}")
    return lines


def patch_configmap(api: str, namespace: str, name: str, report: dict, token_file: str, ca_file: str | None,
                    timeout: float) -> None:
    with open(token_file, encoding="utf-8") as fh:
        token = fh.read().strip()
    body = json.dumps({"data": {"result.json": json.dumps(report, sort_keys=True)}}).encode()
    request = urllib.request.Request(
        f"{api.rstrip('/')}/api/v1/namespaces/{namespace}/configmaps/{name}", data=body, method="PATCH",
        headers={"Content-Type": "application/merge-patch+json", "Authorization": f"Bearer {token}",
                 "Accept": "application/json"})
    context = ssl.create_default_context(cafile=ca_file) if api.startswith("https:") else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310 - API server
        response.read()


def _in_cluster_api() -> str:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        return ""
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", required=True, help="the vllm bench serve --save-result JSON file")
    parser.add_argument("--predicted", required=True, help="JSON file with the sizing prediction")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument("--configmap", help="ConfigMap to merge the report into (data result.json)")
    parser.add_argument("--namespace", help="namespace of the ConfigMap")
    parser.add_argument("--api-server", default=_in_cluster_api(), help="Kubernetes API URL (default: in-cluster)")
    parser.add_argument("--token-file", default=f"{SA_DIR}/token")
    parser.add_argument("--ca-file", default=f"{SA_DIR}/ca.crt")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.configmap and not (args.namespace and args.api_server):
        log("ERROR --configmap needs --namespace and an API server (KUBERNETES_SERVICE_HOST or --api-server)")
        return 2
    try:
        with open(args.result, encoding="utf-8") as fh:
            result = json.load(fh)
        with open(args.predicted, encoding="utf-8") as fh:
            predicted = json.load(fh)
        report = build_report(result, predicted, args.model)
    except (OSError, ValueError) as exc:
        log(f"FAIL cannot build the report: {exc}")
        return 1
    for line in table(report):
        log(line)
    print(json.dumps(report, sort_keys=True), flush=True)
    if args.configmap:
        try:
            patch_configmap(args.api_server, args.namespace, args.configmap, report, args.token_file,
                            args.ca_file if os.path.isfile(args.ca_file) else None, args.timeout)
        except (OSError, urllib.error.URLError) as exc:
            log(f"FAIL cannot write ConfigMap {args.namespace}/{args.configmap}: {exc}")
            return 1
        log(f"ok report written to ConfigMap {args.namespace}/{args.configmap} (data result.json)")
    if report["failedRequests"]:
        log(f"FAIL {report['failedRequests']} of {result.get('num_prompts')} benchmark requests failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
