"""The known metric names, per engine, tied to the pinned image versions in versions.yaml.

Every metric a rule or a dashboard queries must be listed here; tests parse the
rendered PromQL and fail on any name that is not (no invented names). When an
engine image is bumped, re-check its /metrics and update the list in the same
review: that is where renames (``vllm:gpu_cache_usage_perc`` ->
``vllm:kv_cache_usage_perc``, ``vllm:time_per_output_token_seconds`` ->
``vllm:inter_token_latency_seconds``) are caught. docs/monitoring.md cites, for every upstream
name here, the file and line that defines it at the pinned (or assumed) version;
tests/test_upstream_evidence.py fails when a name has no citation row.
"""

from __future__ import annotations

from functools import lru_cache

from components.promql import metric_names_in

__all__ = [
    "VLLM_VERSION",
    "VLLM_METRICS",
    "VLLM_DEPRECATED",
    "HTTP_METRICS",
    "DCGM_METRICS",
    "BLACKBOX_METRICS",
    "KUBE_STATE_METRICS",
    "CADVISOR_METRICS",
    "PROMETHEUS_METRICS",
    "GATEWAY_METRICS",
    "VLLM_ROUTER_METRICS",
    "known_series",
    "metric_names_in",
]

VLLM_VERSION = "v0.11.0"
"""The vLLM release the names below were checked against (versions.yaml ``vllm-openai``)."""

# name -> type ("gauge", "counter", "histogram"); counters are exposed with a _total suffix.
VLLM_METRICS: dict[str, str] = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",  # 0-1; replaces vllm:gpu_cache_usage_perc
    "vllm:prefix_cache_queries": "counter",
    "vllm:prefix_cache_hits": "counter",
    "vllm:num_preemptions": "counter",
    "vllm:prompt_tokens": "counter",
    "vllm:generation_tokens": "counter",
    "vllm:request_success": "counter",  # label finished_reason: stop | length | abort
    "vllm:request_prompt_tokens": "histogram",
    "vllm:request_generation_tokens": "histogram",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",  # new in 0.11 (ITL)
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:request_queue_time_seconds": "histogram",
    "vllm:request_inference_time_seconds": "histogram",
    "vllm:request_prefill_time_seconds": "histogram",
    "vllm:request_decode_time_seconds": "histogram",
}

VLLM_DEPRECATED: dict[str, str] = {
    "vllm:gpu_cache_usage_perc": "vllm:kv_cache_usage_perc",
    "vllm:time_per_output_token_seconds": "vllm:inter_token_latency_seconds",
    "vllm:gpu_prefix_cache_queries": "vllm:prefix_cache_queries",
    "vllm:gpu_prefix_cache_hits": "vllm:prefix_cache_hits",
}
"""Names still exposed (or hidden) in v0.11 but deprecated; rules and dashboards must not use them."""

HTTP_METRICS: dict[str, str] = {
    # prometheus-fastapi-instrumentator (>= 7.0.0, what vLLM 0.11.0 requires) on vLLM's API server; status grouped as 2xx/4xx/5xx.
    "http_requests_total": "plain",
    "http_request_duration_seconds": "histogram",
}

DCGM_METRICS: dict[str, str] = {
    # NVIDIA dcgm-exporter default counters (labels gpu, UUID, modelName, Hostname, ...); assumed 4.4.1-4.6.0.
    "DCGM_FI_DEV_FB_USED": "gauge",  # MiB
    "DCGM_FI_DEV_FB_FREE": "gauge",  # MiB
    "DCGM_FI_DEV_GPU_TEMP": "gauge",  # degrees C
    "DCGM_FI_DEV_GPU_UTIL": "gauge",  # percent
    "DCGM_FI_DEV_POWER_USAGE": "gauge",  # W
}

BLACKBOX_METRICS: dict[str, str] = {
    # blackbox_exporter v0.27.0 (versions.yaml blackbox-exporter).
    "probe_success": "gauge",
    "probe_duration_seconds": "gauge",
    "probe_http_status_code": "gauge",
}

KUBE_STATE_METRICS: dict[str, str] = {
    # kube-state-metrics, assumed v2.17.0 (the cluster's).
    "kube_pod_container_status_restarts_total": "plain",
    "kube_pod_container_status_last_terminated_reason": "gauge",
}

CADVISOR_METRICS: dict[str, str] = {
    # cAdvisor in the kubelet, assumed v0.52.1 (the names are the same from v0.47.0 to v0.57.0).
    "container_cpu_usage_seconds_total": "plain",
    "container_memory_working_set_bytes": "gauge",
}

GATEWAY_METRICS: dict[str, str] = {
    # components/gateway/files/metrics_exporter.py (ours), labels client, model, code / limit.
    "slm_gateway_requests": "counter",
    "slm_gateway_limited": "counter",
    "slm_gateway_request_duration_seconds": "histogram",
    "slm_gateway_log_lines_invalid": "counter",
}

VLLM_ROUTER_METRICS: dict[str, str] = {
    # vllm-router 0.1.17 src/metrics.rs (describe_* calls); label worker = worker URL.
    "vllm_router_requests_total": "plain",
    "vllm_router_worker_health": "gauge",
    "vllm_router_running_requests": "gauge",
    "vllm_router_prefix_routing_decisions_total": "plain",
    "vllm_router_processed_requests_total": "plain",
}

PROMETHEUS_METRICS: dict[str, str] = {"up": "gauge"}


def _expand(name: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return {name}


@lru_cache(maxsize=1)
def known_series() -> frozenset[str]:
    """Every series name a rule or panel may query."""
    names: set[str] = set()
    for table in (VLLM_METRICS, HTTP_METRICS, DCGM_METRICS, BLACKBOX_METRICS, KUBE_STATE_METRICS, CADVISOR_METRICS,
                  GATEWAY_METRICS, VLLM_ROUTER_METRICS, PROMETHEUS_METRICS):
        for name, kind in table.items():
            names |= _expand(name, kind)
    return frozenset(names)


