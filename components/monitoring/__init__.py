"""MonitoringStack: Prometheus, Alertmanager, Grafana, alert rules and dashboards for one stack.

Two modes, chosen per stack:

* ``standalone`` deploys its own hardened Prometheus (PVC, retention), Alertmanager
  (receiver URL from a Pulumi secret, mounted as a file), Grafana (admin password
  from a Pulumi secret, datasource and dashboards provisioned) and, when anything
  is probed, a blackbox exporter;
* ``operator`` uses the cluster's Prometheus Operator and Grafana: PodMonitors,
  Probes, a PrometheusRule and dashboard ConfigMaps carrying the Grafana sidecar label.

Scrape jobs, rules and dashboards are built from the stack's
:class:`~components.observability.MonitoringContribution` list, never from a list
of known components.
"""

from __future__ import annotations

import dataclasses

import pulumi

from components.base import SlmComponent
from components.context import StackContext
from components.monitoring.args import (
    AlertmanagerArgs,
    DcgmExporterArgs,
    GrafanaArgs,
    KubeStateMetricsArgs,
    MonitoringStackArgs,
    OperatorArgs,
    PrometheusArgs,
    ReceiverArgs,
    RouteArgs,
)
from components.monitoring.cluster import dcgm_contribution, kube_state_contribution
from components.monitoring.constants import RULES_FILE, TYPE
from components.monitoring.dashboards import build_dashboards, dashboard_json
from components.monitoring.metrics import CADVISOR_METRICS, metric_names_in
from components.monitoring.operator import deploy_operator
from components.monitoring.prometheus_config import check_unique, rule_groups, to_yaml
from components.monitoring.standalone import deploy_standalone
from components.observability import MonitoringContribution, queried_metric_names
from components.probe_monitoring import scoped

__all__ = [
    "TYPE",
    "RULES_FILE",
    "PrometheusArgs",
    "ReceiverArgs",
    "RouteArgs",
    "AlertmanagerArgs",
    "GrafanaArgs",
    "DcgmExporterArgs",
    "KubeStateMetricsArgs",
    "OperatorArgs",
    "MonitoringStackArgs",
    "MonitoringStack",
]


class MonitoringStack(SlmComponent):
    """Monitoring for every serving component of a stack (see module docstring)."""

    TYPE = TYPE

    def __init__(
        self,
        name: str,
        args: MonitoringStackArgs,
        ctx: StackContext,
        *,
        contributions: list[MonitoringContribution],
        grafana_admin_password: pulumi.Input[str] | None,
        alert_webhook_url: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        namespace = ctx.namespace
        self.contributions = self.gather(args, contributions, namespace=namespace)
        groups = rule_groups(self.contributions, args.thresholds, args.evaluation_interval)
        self.rules_yaml = to_yaml({"groups": groups})
        self.dashboards = build_dashboards(self.contributions, uid_prefix=f"slm-{namespace}", tags=["slm-deploy", namespace], namespace=namespace)
        # The rule file, for promtool and reviewers (operator mode carries it inside a PrometheusRule). The
        # dashboards are not repeated here: each mode's ConfigMaps hold them and render as files already.
        generated = {f"rules/{RULES_FILE}": self.rules_yaml}
        super().__init__(name, props={"mode": args.mode}, generated_files=generated, opts=opts)

        common = dict(
            parent=self,
            name=name,
            args=args,
            namespace=namespace,
            part_of=ctx.part_of,
            contributions=self.contributions,
            rules_yaml=self.rules_yaml,
            rule_groups=groups,
            dashboards={f: dashboard_json(d) for f, d in self.dashboards.items()},
        )
        if args.mode == "standalone":
            outputs = deploy_standalone(
                **common,
                storage_class=ctx.storage_class,
                api_server_cidrs=tuple(ctx.cluster.api_server_cidrs),
                grafana_admin_password=grafana_admin_password,
                alert_webhook_url=alert_webhook_url,
            )
        else:
            outputs = deploy_operator(**common)
        self.outputs = outputs
        self.register_outputs(outputs)

    @staticmethod
    def gather(args: MonitoringStackArgs, contributions: list[MonitoringContribution], *, namespace: str) -> list[MonitoringContribution]:
        """The serving components' contributions plus the stack-level ones (GPU, pod health).

        Probe contributions built without a namespace are scoped to ``namespace``. In
        standalone mode, panels querying cAdvisor metrics are dropped: the standalone
        Prometheus has no kubelet/cAdvisor job (that would need a ClusterRole with
        nodes/proxy), so they would always be empty; the operator's Prometheus has them.
        """
        gathered = [scoped(c, namespace) for c in contributions]
        if args.mode == "standalone":
            gathered = [_without_cadvisor_panels(c) for c in gathered]
        if args.dcgm is not None:
            gathered.append(dcgm_contribution(job="dcgm-exporter", namespace=args.dcgm.namespace, pod_selector=args.dcgm.pod_selector, port_name=args.dcgm.port_name))
        if args.kube_state_metrics is not None:
            ksm = args.kube_state_metrics
            gathered.append(
                kube_state_contribution(
                    stack_namespace=namespace, job="kube-state-metrics", namespace=ksm.namespace,
                    pod_selector=ksm.pod_selector, port_name=ksm.port_name, scrape=args.mode == "standalone",
                )
            )
        check_unique(gathered)
        return gathered


_CADVISOR_SERIES = frozenset(CADVISOR_METRICS)


def _without_cadvisor_panels(c: MonitoringContribution) -> MonitoringContribution:
    def uses_cadvisor(panel) -> bool:
        return any(metric_names_in(expr) & _CADVISOR_SERIES for expr, _ in panel.targets)

    panels = tuple(p for p in c.panels if not uses_cadvisor(p))
    if len(panels) == len(c.panels):
        return c
    return dataclasses.replace(c, panels=panels, metric_names=queried_metric_names(c.alert_rules, panels))
