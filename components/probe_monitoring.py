"""Monitoring for engines without a /metrics endpoint (Ollama, ONNX edge nodes): blackbox probes.

Ollama has no Prometheus endpoint and no ``/api/health`` route, so it is watched
with an HTTP probe of ``/`` or ``/api/version`` through the blackbox exporter the
monitoring stack deploys (or the cluster's, in operator mode). The probe result
(``probe_success``, ``probe_duration_seconds``) drives an alert and a dashboard row.

Every query is scoped to the probe ``job`` *and* ``namespace`` (the stack namespace):
the probe series carry it as a target label (the ProbeTarget's labels, which both
the standalone scrape config and the operator's Probe object attach), so two stacks
sharing one Prometheus never mix. A contribution built without a namespace is
scoped to the stack namespace by :meth:`MonitoringStack.gather` (:func:`scoped`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.observability import (
    AlertRule, AlertThresholds, MonitoringContribution, Panel, ProbeTarget, queried_metric_names,
)

__all__ = ["probe_contribution", "scoped", "ProbeRules", "PROBE_ALERTS"]

PROBE_ALERTS = {"ollama": "OllamaProbeFailing", "onnx": "EdgeNodeProbeFailing"}
"""Alert name per probed engine (each has a promtool unit test)."""

_ENGINE_TITLE = {"ollama": "Ollama", "onnx": "ONNX edge node"}


@dataclass(frozen=True)
class ProbeRules:
    """The alert-rule builder of one probe contribution; keeps its inputs so :func:`scoped` can rebuild it."""

    engine: str
    job: str
    url: str
    namespace: str | None
    pod_regex: str | None

    def __call__(self, t: AlertThresholds) -> list[AlertRule]:
        engine, job, url = self.engine, self.job, self.url
        sel = f'job="{job}"' + (f', namespace="{self.namespace}"' if self.namespace else "")
        return [
            AlertRule(
                name=PROBE_ALERTS[engine],
                expr=f"max by (job, namespace, instance) (probe_success{{{sel}}}) == 0",
                for_=t.probe_for,
                severity="critical",
                summary=f"{_ENGINE_TITLE[engine]} probe failing: {{{{ $labels.instance }}}}",
                description=f"The blackbox probe of {url} (job {job}) has failed for {t.probe_for}.",
                runbook="Check the server container (logs, restarts, memory) and the auth proxy in front of it; a probe that "
                "times out while a model loads clears once loading finishes.",
            )
        ]


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

    ``namespace`` is the stack namespace: the probe series carry it and every query
    selects it (None: MonitoringStack scopes the contribution to its own namespace).
    With ``namespace`` and ``pod_regex`` (pods of the node or server), the dashboard
    also shows CPU and memory use from cAdvisor metrics; MonitoringStack keeps those
    panels only in operator mode, where the cluster's Prometheus scrapes cAdvisor.
    """
    if engine not in PROBE_ALERTS:
        raise ValueError(f"engine {engine!r} is not probed; allowed: {', '.join(PROBE_ALERTS)}")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"probe url {url!r} must be an http:// or https:// URL")
    sel = f'job="{job}", ' + (f'namespace="{namespace}", ' if namespace else "") + 'instance=~"$instance"'
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
    rules = ProbeRules(engine, job, url, namespace, pod_regex)
    return MonitoringContribution(
        source=source,
        engine=engine,
        probe_targets=(ProbeTarget(job=job, url=url, labels={"engine": engine, "source": source, **({"namespace": namespace} if namespace else {})}),),
        alert_rules=rules,
        panels=tuple(panels),
        metric_names=queried_metric_names(rules, panels),
    )


def scoped(contribution: MonitoringContribution, namespace: str) -> MonitoringContribution:
    """``contribution`` scoped to ``namespace`` if it is a probe contribution built without one (else unchanged)."""
    rules = contribution.alert_rules
    if not isinstance(rules, ProbeRules) or rules.namespace is not None:
        return contribution
    return probe_contribution(
        contribution.source, rules.engine, rules.job, rules.url, namespace=namespace, pod_regex=rules.pod_regex  # type: ignore[arg-type]
    )
