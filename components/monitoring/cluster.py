"""Stack-level contributions the monitoring stack adds itself: GPUs (DCGM) and pod health (kube-state-metrics).

They are ordinary :class:`MonitoringContribution` objects, built from the
MonitoringStack's Args, so they flow through the same scrape-config, rule and
dashboard builders as the serving components' contributions.
"""

from __future__ import annotations

from components.promql import promql_number
from components.observability import (
    AlertRule, AlertThresholds, MonitoringContribution, Panel, ScrapeTarget, queried_metric_names,
)

__all__ = ["GPU_ALERTS", "POD_ALERTS", "dcgm_contribution", "kube_state_contribution"]

GPU_ALERTS = ("GpuMemoryNearFull", "GpuTemperatureHigh")
POD_ALERTS = ("PodRestartLooping", "ContainerOOMKilled")


def dcgm_contribution(*, job: str, namespace: str, pod_selector: dict[str, str], port_name: str) -> MonitoringContribution:
    """NVIDIA dcgm-exporter (deployed by the GPU operator): GPU memory, temperature and utilisation."""
    fb_ratio = "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)"

    def rules(t: AlertThresholds) -> list[AlertRule]:
        return [
            AlertRule(
                name="GpuMemoryNearFull",
                expr=f"max by (Hostname, gpu) ({fb_ratio}) > {promql_number(t.gpu_memory_usage)}",
                for_="5m",
                severity="warning",
                summary="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} memory nearly full",
                description=f"GPU framebuffer use has been above {promql_number(t.gpu_memory_usage * 100)}% for 5m. vLLM preallocates "
                "its share (gpu-memory-utilization), so this usually means another process shares the GPU.",
                runbook="nvidia-smi on the node (or the DCGM dashboard) to find the other process; keep one model server per "
                "GPU, or lower gpu-memory-utilization.",
            ),
            AlertRule(
                name="GpuTemperatureHigh",
                expr=f"max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP) > {promql_number(t.gpu_temperature_celsius)}",
                for_="5m",
                severity="warning",
                summary="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is hot",
                description=f"GPU temperature has been above {promql_number(t.gpu_temperature_celsius)} C for 5m; the GPU will throttle.",
                runbook="Check node cooling and fan/power state with the provider; cordon the node if it keeps throttling.",
            ),
        ]

    sel = 'Hostname=~"$instance"'
    panels = (
        Panel("GPU memory used", ((f"max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{sel}}}) * 1048576", "{{Hostname}} gpu{{gpu}}"),), unit="bytes"),
        Panel("GPU memory use ratio", ((f"max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{sel}}} / (DCGM_FI_DEV_FB_USED{{{sel}}} + DCGM_FI_DEV_FB_FREE{{{sel}}}))", "{{Hostname}} gpu{{gpu}}"),), unit="percentunit"),
        Panel("GPU utilisation", ((f"max by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{{{sel}}})", "{{Hostname}} gpu{{gpu}}"),), unit="percent"),
        Panel("GPU temperature", ((f"max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP{{{sel}}})", "{{Hostname}} gpu{{gpu}}"),), unit="celsius"),
        Panel("GPU power", ((f"max by (Hostname, gpu) (DCGM_FI_DEV_POWER_USAGE{{{sel}}})", "{{Hostname}} gpu{{gpu}}"),), unit="watt"),
    )
    return MonitoringContribution(
        source="gpu",
        engine="gpu",
        scrape_targets=(ScrapeTarget(job=job, namespace=namespace, pod_selector=dict(pod_selector), port_name=port_name),),
        alert_rules=rules,
        panels=panels,
        metric_names=queried_metric_names(rules, panels),
    )


def kube_state_contribution(
    *, stack_namespace: str, job: str, namespace: str, pod_selector: dict[str, str], port_name: str, scrape: bool
) -> MonitoringContribution:
    """Restart loops and OOM kills of the stack's containers, from kube-state-metrics.

    ``scrape`` adds the kube-state-metrics scrape target (standalone mode); the
    operator's Prometheus already scrapes it.
    """
    ns = f'namespace="{stack_namespace}"'
    restarts = f"sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{{{ns}}}[15m]))"

    def rules(t: AlertThresholds) -> list[AlertRule]:
        return [
            AlertRule(
                name="PodRestartLooping",
                expr=f"{restarts} >= {t.restarts_per_15m}",
                for_="1m",
                severity="warning",
                summary="{{ $labels.pod }}/{{ $labels.container }} is restart-looping",
                description=f"Container {{{{ $labels.container }}}} of pod {{{{ $labels.pod }}}} restarted at least {t.restarts_per_15m} times in 15m.",
                runbook="kubectl logs --previous for the crash reason; a probe killing a slow start needs a longer startup "
                "probe budget; OOMKilled needs a bigger memory limit or a smaller context.",
            ),
            AlertRule(
                name="ContainerOOMKilled",
                expr=(
                    f'max by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason{{{ns}, reason="OOMKilled"}}) == 1 '
                    f"and on (namespace, pod, container) {restarts} > 0"
                ),
                for_="1m",
                severity="warning",
                summary="{{ $labels.pod }}/{{ $labels.container }} was OOMKilled",
                description="Container {{ $labels.container }} of pod {{ $labels.pod }} restarted in the last 15m after being killed for memory.",
                runbook="Raise the memory limit (see the sizing report), or lower max-model-len / num_ctx / concurrency so the "
                "engine fits.",
            ),
        ]

    pod = 'pod=~"$pod"'
    panels = (
        Panel("Container restarts (15m)", ((f"sum by (pod, container) (increase(kube_pod_container_status_restarts_total{{{ns}, {pod}}}[15m]))", "{{pod}}/{{container}}"),)),
        Panel("Last termination reason", ((f"max by (pod, container, reason) (kube_pod_container_status_last_terminated_reason{{{ns}, {pod}}})", "{{pod}}/{{container}} {{reason}}"),), kind="stat"),
    )
    targets = (ScrapeTarget(job=job, namespace=namespace, pod_selector=dict(pod_selector), port_name=port_name),) if scrape else ()
    return MonitoringContribution(
        source="pods",
        engine="kubernetes",  # type: ignore[arg-type]  # stack-level: no serving engine
        scrape_targets=targets,
        alert_rules=rules,
        panels=panels,
        metric_names=queried_metric_names(rules, panels),
    )
