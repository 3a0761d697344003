"""What one vLLM server contributes to the stack's monitoring (scrape target, alerts, panels).

VllmService calls :func:`vllm_contribution`; MonitoringStack gathers every
contribution, so a second VllmService adds a second scrape job, its own rule
group and its own dashboard row, with no edit to monitoring code. Every query
is scoped to the contribution's ``job`` (= ``source``) *and* ``namespace``: on a
shared Prometheus (operator mode) two stacks may run a vLLM server of the same
name, and their series must not mix. Both scrape paths attach ``namespace``: the
standalone scrape config relabels it from ``__meta_kubernetes_namespace`` and the
Prometheus Operator adds it to PodMonitor targets by default. Metric names are the
ones vLLM v0.11.0 exposes (see :mod:`components.monitoring.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable

from components.observability import (
    AlertRule, AlertThresholds, MonitoringContribution, Panel, ScrapeTarget, queried_metric_names,
)
from components.promql import promql_number

__all__ = ["vllm_contribution", "VLLM_ALERTS"]

VLLM_ALERTS = (
    "VllmTargetDown",
    "VllmNoTargetUp",
    "VllmQueueDepthHigh",
    "VllmTtftP95High",
    "VllmKvCacheHigh",
    "VllmPreemptionsRising",
    "VllmErrorRateHigh",
)
"""Alert names every vLLM contribution defines (each has a promtool unit test)."""


NO_TARGET_FOR = "15m"
"""Default ``for`` of VllmNoTargetUp: a pod is Pending (so undiscovered) while its model-download
init container runs, so a shorter wait would page on every fresh rollout of a large model."""


def _rules(job: str, namespace: str, models: str, *, expect_targets: bool, no_target_for: str) -> Callable[[AlertThresholds], list[AlertRule]]:
    sel = f'job="{job}", namespace="{namespace}"'

    def build(t: AlertThresholds) -> list[AlertRule]:
        return [
            AlertRule(
                name="VllmTargetDown",
                expr=f"min by (job, namespace, pod) (up{{{sel}}}) == 0",
                for_=t.down_for,
                severity="critical",
                summary="vLLM metrics target {{ $labels.pod }} is down",
                description=f"Prometheus cannot scrape {{{{ $labels.pod }}}} of job {job} (serving {models}) for {t.down_for}.",
                runbook="kubectl describe pod / logs -c vllm: a pod still downloading or loading weights is not ready yet; "
                "CrashLoopBackOff or OOMKilled points at sizing (max-model-len, gpu-memory-utilization).",
            ),
            *([AlertRule(
                name="VllmNoTargetUp",
                # absent(): no target at all (Pending pods are dropped from discovery, e.g. no GPU node);
                # sum == 0: targets exist but none answers. Both yield exactly {job, namespace}.
                expr=f"absent(up{{{sel}}}) or sum by (job, namespace) (up{{{sel}}}) == 0",
                for_=no_target_for,
                severity="critical",
                summary=f"No vLLM target of job {job} is up in {namespace}",
                description=f"Prometheus has had no reachable vLLM pod of job {job} (serving {models}) for {no_target_for}: "
                "none was discovered (pods Pending, e.g. unschedulable, or scaled to zero) or every one is down.",
                runbook="kubectl get pods -l app.kubernetes.io/instance=" + job + " and kubectl describe pod: FailedScheduling "
                "with Insufficient nvidia.com/gpu means no free GPU node (check the node label/taint settings and the "
                "cluster autoscaler); a pod still in Init is downloading weights (kubectl logs -c model-download).",
            )] if expect_targets else []),
            AlertRule(
                name="VllmQueueDepthHigh",
                expr=f"max by (job, model_name) (vllm:num_requests_waiting{{{sel}}}) > {t.queue_depth}",
                for_=t.queue_for,
                severity="warning",
                summary="vLLM queue backlog for {{ $labels.model_name }}",
                description=f"More than {t.queue_depth} requests have waited in the vLLM queue of job {job} for {t.queue_for}.",
                runbook="Scale out (replicas / autoscaler max), lower max-num-seqs per client, or move to a larger GPU; "
                "check the KV-cache panel: a full cache also makes requests wait.",
            ),
            AlertRule(
                name="VllmTtftP95High",
                expr=(
                    "histogram_quantile(0.95, sum by (job, model_name, le) "
                    f"(rate(vllm:time_to_first_token_seconds_bucket{{{sel}}}[5m]))) > {promql_number(t.ttft_p95_seconds)}"
                ),
                for_="5m",
                severity="warning",
                summary="vLLM time to first token p95 is high for {{ $labels.model_name }}",
                description=f"p95 time-to-first-token of job {job} has been above {promql_number(t.ttft_p95_seconds)}s for 5m.",
                runbook="Usually queueing or long prompts: compare queue time and prompt tokens/s; enable chunked prefill or "
                "prefix caching, reduce max-model-len, or add replicas.",
            ),
            AlertRule(
                name="VllmKvCacheHigh",
                expr=f"max by (job, model_name) (vllm:kv_cache_usage_perc{{{sel}}}) > {promql_number(t.kv_cache_usage)}",
                for_="5m",
                severity="warning",
                summary="vLLM KV cache nearly full for {{ $labels.model_name }}",
                description=f"KV-cache usage of job {job} has been above {promql_number(t.kv_cache_usage * 100)}% for 5m; new requests will wait or preempt.",
                runbook="Lower max-num-seqs or max-model-len, use an fp8 KV cache, raise gpu-memory-utilization if the GPU "
                "has headroom, or add replicas.",
            ),
            AlertRule(
                name="VllmPreemptionsRising",
                expr=f"sum by (job, model_name) (rate(vllm:num_preemptions_total{{{sel}}}[5m])) * 60 > {promql_number(t.preemptions_per_minute)}",
                for_="10m",
                severity="warning",
                summary="vLLM is preempting requests for {{ $labels.model_name }}",
                description=f"Job {job} has preempted more than {promql_number(t.preemptions_per_minute)} requests per minute for 10m (KV-cache pressure).",
                runbook="Preemption recomputes work: reduce concurrency (max-num-seqs), shorten contexts, or give the model more "
                "KV-cache memory (bigger GPU, fp8 KV cache, tensor parallelism).",
            ),
            AlertRule(
                name="VllmErrorRateHigh",
                expr=(
                    f'sum by (job) (rate(http_requests_total{{{sel}, status="5xx"}}[5m])) '
                    f"/ sum by (job) (rate(http_requests_total{{{sel}}}[5m])) > {promql_number(t.error_rate)}"
                ),
                for_="5m",
                severity="critical",
                summary="vLLM returns server errors ({{ $labels.job }})",
                description=f"More than {promql_number(t.error_rate * 100)}% of requests to job {job} have failed with 5xx for 5m.",
                runbook="Read the vLLM container logs for engine errors (CUDA OOM, engine dead); restart the pod if the engine "
                "died; check recent config or image changes.",
            ),
        ]

    return build


def _panels(job: str, namespace: str) -> tuple[Panel, ...]:
    sel = f'job="{job}", namespace="{namespace}", model_name=~"$model_name"'
    rate = "[$__rate_interval]"

    def q(metric: str, quantile: float) -> str:
        return f"histogram_quantile({quantile}, sum by (model_name, le) (rate({metric}_bucket{{{sel}}}{rate})))"

    return (
        Panel("Requests running / waiting", (
            (f"sum by (model_name) (vllm:num_requests_running{{{sel}}})", "running {{model_name}}"),
            (f"sum by (model_name) (vllm:num_requests_waiting{{{sel}}})", "waiting {{model_name}}"),
        )),
        Panel("Time to first token", tuple(
            (q("vllm:time_to_first_token_seconds", p), f"p{int(p * 100)} {{{{model_name}}}}") for p in (0.5, 0.95, 0.99)
        ), unit="s"),
        Panel("Inter-token latency", tuple(
            (q("vllm:inter_token_latency_seconds", p), f"p{int(p * 100)} {{{{model_name}}}}") for p in (0.5, 0.95, 0.99)
        ), unit="s"),
        Panel("End-to-end request latency", tuple(
            (q("vllm:e2e_request_latency_seconds", p), f"p{int(p * 100)} {{{{model_name}}}}") for p in (0.5, 0.95, 0.99)
        ), unit="s"),
        Panel("Tokens per second", (
            (f"sum by (model_name) (rate(vllm:prompt_tokens_total{{{sel}}}{rate}))", "prompt {{model_name}}"),
            (f"sum by (model_name) (rate(vllm:generation_tokens_total{{{sel}}}{rate}))", "generation {{model_name}}"),
        ), unit="short"),
        Panel("KV-cache usage", (
            (f"max by (model_name) (vllm:kv_cache_usage_perc{{{sel}}})", "{{model_name}}"),
        ), unit="percentunit", kind="gauge"),
        Panel("Preemptions per minute", (
            (f"sum by (model_name) (rate(vllm:num_preemptions_total{{{sel}}}{rate})) * 60", "{{model_name}}"),
        )),
        Panel("Requests finished (success) by reason", (
            (f"sum by (model_name, finished_reason) (rate(vllm:request_success_total{{{sel}}}{rate}))", "{{finished_reason}} {{model_name}}"),
        ), unit="reqps"),
        Panel("HTTP error rate (5xx share)", (
            (
                f'sum(rate(http_requests_total{{job="{job}", namespace="{namespace}", status="5xx"}}{rate})) '
                f'/ sum(rate(http_requests_total{{job="{job}", namespace="{namespace}"}}{rate}))',
                "5xx share",
            ),
        ), unit="percentunit"),
    )


def vllm_contribution(
    source: str, namespace: str, pod_selector: dict[str, str], port_name: str, model_names: list[str],
    *, min_replicas: int = 1, no_target_for: str = NO_TARGET_FOR,
) -> MonitoringContribution:
    """Monitoring for one vLLM server: pods matching ``pod_selector`` in ``namespace``, metrics on ``port_name``.

    ``source`` names the serving component and becomes the Prometheus job name, so
    it must be unique in the stack. ``min_replicas=0`` (scale to zero) leaves out
    VllmNoTargetUp, which would otherwise fire whenever the server is idle.
    ``no_target_for`` is how long no target may be up before that alert fires.
    """
    if not source:
        raise ValueError("source must be a non-empty name (it becomes the Prometheus job)")
    if not namespace:
        raise ValueError("namespace must be the vLLM pods' namespace (every query is scoped to it)")
    models = ", ".join(model_names) if model_names else "its model"
    rules = _rules(source, namespace, models, expect_targets=min_replicas > 0, no_target_for=no_target_for)
    panels = _panels(source, namespace)
    return MonitoringContribution(
        source=source,
        engine="vllm",
        scrape_targets=(ScrapeTarget(job=source, namespace=namespace, pod_selector=dict(pod_selector), port_name=port_name),),
        alert_rules=rules,
        panels=panels,
        metric_names=queried_metric_names(rules, panels),
    )
