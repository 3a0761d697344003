"""The contract between serving components and :mod:`components.monitoring`.

A serving component does not know which monitoring stack (if any) the stack
runs. It *contributes* a :class:`MonitoringContribution`: where to scrape or
probe it, its alert rules (built from the stack's :class:`AlertThresholds`)
and its dashboard panels. The monitoring stack gathers every contribution of
the stack, so a second serving component shows up in scrape configs, rules and
dashboards with no edit to monitoring code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from components.base import ArgsModel
from components.promql import metric_names_in
from components.validation import Duration

__all__ = [
    "AlertThresholds",
    "ScrapeTarget",
    "ProbeTarget",
    "AlertRule",
    "Panel",
    "MonitoringContribution",
    "queried_metric_names",
]


class AlertThresholds(ArgsModel):
    """Alert thresholds; MonitoringStackArgs carries one and stacks may override any field."""

    down_for: Duration = Field(default="2m", alias="downFor", description="How long a target may be down before alerting. Default 2m.")
    queue_depth: int = Field(default=10, ge=1, alias="queueDepth", description="Waiting requests per model (vllm:num_requests_waiting) that count as a backlog. Default 10.")
    queue_for: Duration = Field(default="5m", alias="queueFor", description="How long the backlog must last. Default 5m.")
    ttft_p95_seconds: float = Field(default=2.0, gt=0, alias="ttftP95Seconds", description="Time-to-first-token p95 ceiling in seconds. Default 2.0 (interactive chat).")
    kv_cache_usage: float = Field(default=0.9, gt=0, le=1, alias="kvCacheUsage", description="KV-cache usage ratio (0–1) above which requests start to be preempted. Default 0.9.")
    preemptions_per_minute: float = Field(default=1.0, ge=0, alias="preemptionsPerMinute", description="Preemption rate that signals KV-cache pressure. Default 1/min.")
    error_rate: float = Field(default=0.05, gt=0, le=1, alias="errorRate", description="Share of failed requests. Default 5%.")
    gpu_memory_usage: float = Field(default=0.95, gt=0, le=1, alias="gpuMemoryUsage", description="GPU framebuffer usage ratio (DCGM). Default 0.95; vLLM preallocates ~90%, so this catches other tenants.")
    gpu_temperature_celsius: float = Field(default=85, gt=0, alias="gpuTemperatureCelsius", description="GPU temperature ceiling (DCGM). Default 85 °C, below typical slowdown temperatures.")
    restarts_per_15m: int = Field(default=3, ge=1, alias="restartsPer15m", description="Container restarts in 15 minutes that count as a restart loop. Default 3.")
    probe_for: Duration = Field(default="2m", alias="probeFor", description="How long a blackbox probe may fail before alerting. Default 2m.")
    gateway_limited_share: float = Field(default=0.1, gt=0, lt=1, alias="gatewayLimitedShare", description="Share of a gateway client's requests refused with 429 that counts as persistently at its limit. Default 10%.")
    gateway_limited_for: Duration = Field(default="15m", alias="gatewayLimitedFor", description="How long a client must stay over that share. Default 15m: bursts are what the limits are for.")
    gateway_auth_failures_per_minute: float = Field(default=10, gt=0, alias="gatewayAuthFailuresPerMinute", description="Requests per minute with a missing or wrong key (401) that count as a burst of failed authentications. Default 10.")
    gateway_auth_for: Duration = Field(default="5m", alias="gatewayAuthFor", description="How long the 401 rate must last. Default 5m.")


@dataclass(frozen=True)
class ScrapeTarget:
    """A Prometheus scrape target found by labels (pods in ``namespace`` matching ``pod_selector``)."""

    job: str
    namespace: str
    pod_selector: dict[str, str]
    port_name: str
    path: str = "/metrics"


@dataclass(frozen=True)
class ProbeTarget:
    """A blackbox HTTP probe, for engines without a /metrics endpoint (Ollama, edge nodes)."""

    job: str
    url: str
    module: str = "http_2xx"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRule:
    """One Prometheus alerting rule with the annotations reviewers and on-call need."""

    name: str
    expr: str
    for_: str
    severity: Literal["critical", "warning", "info"]
    summary: str
    description: str
    runbook: str


@dataclass(frozen=True)
class Panel:
    """One dashboard panel: PromQL targets as (expr, legend) pairs."""

    title: str
    targets: tuple[tuple[str, str], ...]
    unit: str = "short"
    kind: Literal["timeseries", "stat", "gauge"] = "timeseries"


@dataclass(frozen=True)
class MonitoringContribution:
    """What one serving component adds to the stack's monitoring."""

    source: str
    engine: Literal["vllm", "ollama", "onnx", "gpu", "kubernetes", "gateway"]
    scrape_targets: tuple[ScrapeTarget, ...] = ()
    probe_targets: tuple[ProbeTarget, ...] = ()
    alert_rules: Callable[[AlertThresholds], list[AlertRule]] = lambda _t: []
    panels: tuple[Panel, ...] = ()
    metric_names: frozenset[str] = frozenset()
    """Every metric the rules and panels query, checked against the pinned engine's metric list."""


def queried_metric_names(alert_rules: Callable[[AlertThresholds], list[AlertRule]], panels: Iterable[Panel]) -> frozenset[str]:
    """Every metric name the rules (built with the default :class:`AlertThresholds`) and the panels' targets query:
    a contribution's ``metric_names``, which tests check against the pinned engines' metric lists."""
    names: set[str] = set()
    for rule in alert_rules(AlertThresholds()):
        names |= metric_names_in(rule.expr)
    for panel in panels:
        for expr, _legend in panel.targets:
            names |= metric_names_in(expr)
    return frozenset(names)
