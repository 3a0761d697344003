"""What the ModelGateway contributes to the stack's monitoring: two scrape jobs, per-client panels, alerts.

* job ``<name>``: the per-client exporter (``slm_gateway_*``, labelled by client name, never by key);
* job ``<name>-router``: vllm-router's own metrics (``vllm_router_*``: worker health, prefix hits).

Alerts (each with a promtool unit test in tests/promtool/promtool_cases.py):
``GatewayTargetDown``, ``GatewayClientAtLimit`` (a client's 429 share stays above
``gatewayLimitedShare`` for ``gatewayLimitedFor``) and ``GatewayAuthFailures`` (401s per
minute above ``gatewayAuthFailuresPerMinute`` for ``gatewayAuthFor``).

The single named-client proxies (Ollama's auth proxy and the ONNX edge proxy on Kubernetes) run the same exporter
beside nginx: :func:`proxy_client_contribution` gives each its scrape job, a row of client panels on the same
dashboard and the same two client alerts (by their own job).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from components.gateway.constants import EXPORTER_PORT_NAME, ROUTER_METRICS_PORT_NAME
from components.observability import (
    AlertRule, AlertThresholds, MonitoringContribution, Panel, ScrapeTarget, queried_metric_names,
)
from components.promql import promql_number

__all__ = ["GATEWAY_ALERTS", "gateway_contribution", "proxy_client_contribution"]

GATEWAY_ALERTS = ("GatewayTargetDown", "GatewayClientAtLimit", "GatewayAuthFailures")


def _target_down(job: str, namespace: str) -> Callable[[AlertThresholds], list[AlertRule]]:
    sel = f'job="{job}", namespace="{namespace}"'

    def build(t: AlertThresholds) -> list[AlertRule]:
        return [AlertRule(
            name="GatewayTargetDown",
            expr=f"min by (job, namespace, pod) (up{{{sel}}}) == 0",
            for_=t.down_for,
            severity="critical",
            summary="Model gateway {{ $labels.pod }} is down",
            description=f"Prometheus cannot scrape gateway pod {{{{ $labels.pod }}}} (job {job}) for {t.down_for}: "
            "clients of every model may be failing.",
            runbook="kubectl describe pod / logs -c proxy, -c router, -c router-install: the install step needs "
            "PyPI; the router needs its Role to list pods.",
        )]

    return build


@dataclass(frozen=True)
class _Kind:
    """How the alerts name the proxy whose clients they watch."""

    limit: str
    """"gateway limit" or "proxy limit"."""
    where: str
    """"at the model gateway" or "at auth proxy <job>"."""
    dashboard: str
    log: str
    """Where the access log is: "The gateway's access log" or "The proxy's access log (container auth-proxy)"."""


_GATEWAY = _Kind("gateway limit", "at the model gateway", "Model gateway (clients)", "The gateway's access log")


def _client_rules(job: str, namespace: str, kind: _Kind) -> Callable[[AlertThresholds], list[AlertRule]]:
    """The per-client alerts, on the exporter's metrics of one proxy (the gateway's or a single proxy's)."""
    sel = f'job="{job}", namespace="{namespace}"'

    def build(t: AlertThresholds) -> list[AlertRule]:
        return [
            AlertRule(
                name="GatewayClientAtLimit",
                expr=(f"sum by (job, namespace, client) (rate(slm_gateway_limited_total{{{sel}}}[5m])) / "
                      f"sum by (job, namespace, client) (rate(slm_gateway_requests_total{{{sel}}}[5m])) > "
                      f"{promql_number(t.gateway_limited_share)}"),
                for_=t.gateway_limited_for,
                severity="warning",
                summary=f"Client {{{{ $labels.client }}}} is persistently at its {kind.limit}",
                description=f"More than {promql_number(t.gateway_limited_share * 100)} % of client {{{{ $labels.client }}}}'s "
                f"requests were refused with 429 (rpm or concurrency) for {t.gateway_limited_for}.",
                runbook=f"Dashboard '{kind.dashboard}': raise the client's rpm/concurrency in the stack file, "
                "or ask the client to back off (Retry-After).",
            ),
            AlertRule(
                name="GatewayAuthFailures",
                expr=(f'sum by (job, namespace) (rate(slm_gateway_requests_total{{{sel}, client="unauthenticated", '
                      f'code="401"}}[5m])) * 60 > {promql_number(t.gateway_auth_failures_per_minute)}'),
                for_=t.gateway_auth_for,
                severity="warning",
                summary=f"Burst of failed authentications {kind.where}",
                description=f"More than {promql_number(t.gateway_auth_failures_per_minute)} requests per minute with a missing "
                f"or wrong key for {t.gateway_auth_for} (job {job}).",
                runbook=f"{kind.log} (client \"\", status 401) shows the source addresses: a client with "
                "a revoked key, or key guessing.",
            ),
        ]

    return build


def _client_panels(job: str, namespace: str, title: str = "") -> tuple[Panel, ...]:
    """Requests, refusals, p95 latency and 429s per client, from one exporter (``title``: a prefix naming it)."""
    sel = f'job="{job}", namespace="{namespace}", client=~"$client"'
    return (
        Panel(f"{title}Requests/s by client", (
            (f"sum by (client) (rate(slm_gateway_requests_total{{{sel}}}[5m]))", "{{client}}"),), unit="reqps"),
        Panel(f"{title}Refused by client (401/403/404/429)", (
            (f'sum by (client, code) (rate(slm_gateway_requests_total{{{sel}, code=~"401|403|404|429"}}[5m]))',
             "{{client}} {{code}}"),), unit="reqps"),
        Panel(f"{title}Latency p95 by client", (
            (f"histogram_quantile(0.95, sum by (client, le) (rate(slm_gateway_request_duration_seconds_bucket{{{sel}}}[5m])))",
             "{{client}}"),), unit="s"),
        Panel(f"{title}At limit (429) by client and limit", (
            (f"sum by (client, limit) (rate(slm_gateway_limited_total{{{sel}}}[5m]))", "{{client}} {{limit}}"),), unit="reqps"),
    )


def proxy_client_contribution(source: str, job: str, namespace: str, selector: dict[str, str], *,
                              port_name: str, proxy: str) -> MonitoringContribution:
    """The per-client metrics of a single named-client proxy (Ollama's, an edge node's; Kubernetes): the gateway's
    exporter beside it, scraped as ``job`` on ``port_name``; its client panels (a row of the gateway dashboard)
    and the same two client alerts, labelled with its own job. ``proxy``: how a person names it (e.g. "Ollama's
    auth proxy")."""
    kind = _Kind("proxy limit", f"at {proxy} (job {job})", _GATEWAY.dashboard,
                 f"{proxy[0].upper()}{proxy[1:]}'s access log (container auth-proxy)")
    rules = _client_rules(job, namespace, kind)
    panels = _client_panels(job, namespace, title=f"{proxy[0].upper()}{proxy[1:]}: ")
    return MonitoringContribution(
        source=source,
        engine="gateway",
        scrape_targets=(ScrapeTarget(job=job, namespace=namespace, pod_selector=selector, port_name=port_name),),
        alert_rules=rules,
        panels=panels,
        metric_names=queried_metric_names(rules, panels),
    )


def gateway_contribution(job: str, namespace: str, selector: dict[str, str], *,
                         canary_ports: tuple[str, ...] = (), router: bool = True) -> MonitoringContribution:
    """Scrape jobs, alert rules and dashboard panels of one gateway (``canary_ports``: its canary routers' metrics
    port names, one scrape job each; ``router``: the gateway runs vllm-router, whose metrics are scraped and charted,
    False with cluster.inferenceGateway)."""
    router_sel = f'job="{job}-router", namespace="{namespace}"'
    panels = (
        *_client_panels(job, namespace),
        Panel("Router: healthy workers", (
            (f"sum(vllm_router_worker_health{{{router_sel}}})", "healthy"),), kind="stat"),
        Panel("Router: prefix-cache decisions", (
            (f"sum by (outcome) (rate(vllm_router_prefix_routing_decisions_total{{{router_sel}}}[5m]))", "{{outcome}}"),),
            unit="reqps"),
    ) if router else _client_panels(job, namespace)
    down, clients = _target_down(job, namespace), _client_rules(job, namespace, _GATEWAY)

    def rules(t: AlertThresholds) -> list[AlertRule]:
        return [*down(t), *clients(t)]

    return MonitoringContribution(
        source=job,
        engine="gateway",
        scrape_targets=(
            ScrapeTarget(job=job, namespace=namespace, pod_selector=selector, port_name=EXPORTER_PORT_NAME),
            *((ScrapeTarget(job=f"{job}-router", namespace=namespace, pod_selector=selector,
                            port_name=ROUTER_METRICS_PORT_NAME),) if router else ()),
            # Each canary router's metrics (the canary revision's worker health and routing decisions).
            *(ScrapeTarget(job=f"{job}-router-{port}", namespace=namespace, pod_selector=selector, port_name=port)
              for port in canary_ports),
        ),
        alert_rules=rules,
        panels=panels,
        metric_names=queried_metric_names(rules, panels),
    )
