"""Operator mode: objects for the cluster's Prometheus Operator and Grafana dashboard sidecar.

* a PodMonitor per scrape target (selects pods by labels and port name, so serving
  components need no extra Service); the ``job`` label is set to the contribution's
  job, so rules and dashboards read the same in both modes;
* a Probe per blackbox target (the stack's own blackbox exporter unless an address is given),
  its static labels carrying ``namespace`` like the standalone probe jobs (the operator would
  add the Probe's namespace anyway; PodMonitor targets get ``namespace`` from the operator's
  default ``__meta_kubernetes_namespace`` relabeling), so namespace-scoped rules match;
* one PrometheusRule with the same rule groups the standalone rule file holds;
* one ConfigMap per dashboard, labelled for the Grafana sidecar.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.labels import standard_labels
from components.monitoring.prometheus_config import probe_labels
from components.monitoring.args import MonitoringStackArgs
from components.monitoring.blackbox import deploy_blackbox
from components.monitoring.builder import Builder
from components.observability import MonitoringContribution

__all__ = ["deploy_operator", "MONITORING_API"]

MONITORING_API = "monitoring.coreos.com/v1"


def deploy_operator(
    *,
    parent: pulumi.Resource,
    name: str,
    args: MonitoringStackArgs,
    namespace: str,
    part_of: str,
    contributions: list[MonitoringContribution],
    rules_yaml: str,
    rule_groups: list[dict[str, Any]],
    dashboards: dict[str, str],
) -> dict[str, Any]:
    op = args.operator
    opts = pulumi.ResourceOptions(parent=parent)
    labels = {**standard_labels("monitoring", name, "monitoring", "v1", part_of), **op.selector_labels}

    def meta(obj: str, extra: dict[str, str] | None = None) -> ObjectMetaArgs:
        return ObjectMetaArgs(name=obj, namespace=namespace, labels={**labels, **(extra or {})})

    def operator_object(obj: str, kind: str, spec: dict[str, Any]) -> str:
        """One Prometheus Operator object (``monitoring.coreos.com/v1``) of the stack; returns its name."""
        k8s.apiextensions.CustomResource(obj, api_version=MONITORING_API, kind=kind, metadata=meta(obj), spec=spec,
                                         opts=opts)
        return obj

    pod_monitors, probes = [], []
    for c in contributions:
        for t in c.scrape_targets:
            pod_monitors.append(operator_object(f"{name}-{t.job}", "PodMonitor", {
                "selector": {"matchLabels": dict(t.pod_selector)},
                "namespaceSelector": {"matchNames": [t.namespace]},
                "podMetricsEndpoints": [
                    {
                        "port": t.port_name,
                        "path": t.path,
                        "interval": args.scrape_interval,
                        "honorLabels": t.namespace != namespace,
                        "relabelings": [{"action": "replace", "targetLabel": "job", "replacement": t.job}],
                    }
                ],
            }))

    probe_targets = [p for c in contributions for p in c.probe_targets]
    blackbox = op.blackbox_exporter_address
    if probe_targets and blackbox is None:
        b = Builder(parent, name, namespace, part_of)
        [(scraper, scraper_ns)] = args.scraper_peers(name, namespace)
        blackbox = deploy_blackbox(b, contributions=contributions, scraper_selectors=[scraper], scraper_namespace=scraper_ns)
    for p in probe_targets:
        static: dict[str, Any] = {"static": [p.url], "labels": probe_labels(p, namespace)}
        probes.append(operator_object(f"{name}-{p.job}", "Probe", {
            "jobName": p.job,
            "interval": args.scrape_interval,
            "module": p.module,
            "prober": {"url": blackbox, "path": "/probe", "scheme": "http"},
            "targets": {"staticConfig": static},
        }))

    rule_obj = operator_object(f"{name}-alerts", "PrometheusRule", {"groups": rule_groups})

    dashboard_maps = []
    for file, content in sorted(dashboards.items()):
        obj = f"{name}-dashboard-{file.removesuffix('.json')}"
        k8s.core.v1.ConfigMap(obj, metadata=meta(obj, op.dashboard_label), data={file: content}, opts=opts)
        dashboard_maps.append(obj)

    return {
        "mode": "operator",
        "podMonitors": pod_monitors,
        "probes": probes,
        "prometheusRule": rule_obj,
        "dashboardConfigMaps": dashboard_maps,
        "ruleGroups": [g["name"] for g in rule_groups],
    }
