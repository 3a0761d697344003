"""Monitoring for engines without a /metrics endpoint (Ollama, ONNX edge nodes): blackbox probes.

Ollama has no Prometheus endpoint and no ``/api/health`` route, so it is watched
with an HTTP probe of ``/`` or ``/api/version`` through the blackbox exporter the
monitoring stack deploys (or the cluster's, in operator mode). The probe result
(``probe_success``, ``probe_duration_seconds``) drives an alert and a dashboard row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from components.monitoring.metrics import metric_names_in
from components.observability import AlertRule, AlertThresholds, MonitoringContribution, Panel, ProbeTarget

__all__ = ["probe_contribution", "PROBE_ALERTS"]

PROBE_ALERTS = {"ollama": "OllamaProbeFailing", "onnx": "EdgeNodeProbeFailing"}
"""Alert name per probed engine (each has a promtool unit test)."""

_ENGINE_TITLE = {"ollama": "Ollama", "onnx": "ONNX edge node"}


def _rules(engine: str, job: str, url: str) -> Callable[[AlertThresholds], list[AlertRule]]:
    def build(t: AlertThresholds) -> list[AlertRule]:
        return [
            AlertRule(
                name=PROBE_ALERTS[engine],
                expr=f'max by (job, instance) (probe_success{{job="{job}"}}) == 0',
                for_=t.probe_for,
                severity="critical",
                summary=f"{_ENGINE_TITLE[engine]} probe failing: {{{{ $labels.instance }}}}",
                description=f"The blackbox probe of {url} (job {job}) has failed for {t.probe_for}.",
                runbook="Check the server container (logs, restarts, memory) and the auth proxy in front of it; a probe that "
                "times out while a model loads clears once loading finishes.",
            )
        ]

    return build


def probe_contribution(
    source: str,
    engine: Literal["ollama", "onnx"],
    job: str,
    url: str,
    *,
    namespace: str | None = None,
    pod_regex: str | None = None,
) -> MonitoringContribution:
    """A blackbox probe of ``url`` as Prometheus job ``job``, its alert and panels.

    With ``namespace`` and ``pod_regex`` (pods of the node or server), the dashboard
    also shows CPU and memory use from the cluster's cAdvisor metrics.
    """
    if engine not in PROBE_ALERTS:
        raise ValueError(f"engine {engine!r} is not probed; allowed: {', '.join(PROBE_ALERTS)}")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"probe url {url!r} must be an http:// or https:// URL")
    sel = f'job="{job}", instance=~"$instance"'
    panels = [
        Panel("Up (probe success)", ((f"max by (instance) (probe_success{{{sel}}})", "{{instance}}"),), kind="stat"),
        Panel("Probe latency", ((f"max by (instance) (probe_duration_seconds{{{sel}}})", "{{instance}}"),), unit="s"),
    ]
    if namespace and pod_regex:
        pods = f'namespace="{namespace}", pod=~"{pod_regex}", container!=""'
        panels += [
            Panel("CPU use (cores)", ((f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods}}}[$__rate_interval]))", "{{pod}}"),)),
            Panel("Memory use (working set)", ((f"sum by (pod) (container_memory_working_set_bytes{{{pods}}})", "{{pod}}"),), unit="bytes"),
        ]
    rules = _rules(engine, job, url)
    names: set[str] = set()
    for rule in rules(AlertThresholds()):
        names |= metric_names_in(rule.expr)
    for panel in panels:
        for expr, _ in panel.targets:
            names |= metric_names_in(expr)
    return MonitoringContribution(
        source=source,
        engine=engine,
        probe_targets=(ProbeTarget(job=job, url=url, labels={"engine": engine, "source": source}),),
        alert_rules=rules,
        panels=tuple(panels),
        metric_names=frozenset(names),
    )
