"""MonitoringStackArgs: stack config key ``monitoring`` and its parts (Prometheus, Alertmanager, Grafana, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.base import ArgsModel
from components.labels import selector_labels
from components.monitoring.constants import PROMETHEUS_PORT
from components.observability import AlertThresholds
from components.validation import (
    AlertMatcher, CpuQuantity, DataKey, DnsLabel, DnsSubdomain, Duration, GroupBy, HostAndPort, Labels, MemoryQuantity,
    Port, PortName, PromSize, ReceiverName, StorageQuantity, parse_quantity, prom_size_bytes,
)

__all__ = [
    "PrometheusArgs",
    "ReceiverArgs",
    "RouteArgs",
    "AlertmanagerArgs",
    "GrafanaArgs",
    "DcgmExporterArgs",
    "KubeStateMetricsArgs",
    "OperatorArgs",
    "MonitoringStackArgs",
]


class PrometheusArgs(ArgsModel):
    """The standalone Prometheus server."""

    retention_time: Duration = Field(default="15d", alias="retentionTime", description="TSDB retention time (--storage.tsdb.retention.time). Default 15d: two weeks of history for capacity trends.")
    retention_size: PromSize = Field(default="8GB", alias="retentionSize", description="TSDB size cap (--storage.tsdb.retention.size), below the volume size. Default 8GB on the 10Gi default volume, leaving WAL headroom.")
    storage_size: StorageQuantity = Field(default="10Gi", alias="storageSize", description="PersistentVolumeClaim size for /prometheus. Default 10Gi: a few serving jobs at 30s for 15d fit well below it.")
    cpu_request: CpuQuantity = Field(default="250m", alias="cpuRequest", description="CPU request. Default 250m (tens of targets).")
    cpu_limit: CpuQuantity = Field(default="1", alias="cpuLimit", description="CPU limit. Default 1 (rule evaluation and compaction bursts).")
    memory_request: MemoryQuantity = Field(default="1Gi", alias="memoryRequest", description="Memory request. Default 1Gi.")
    memory_limit: MemoryQuantity = Field(default="2Gi", alias="memoryLimit", description="Memory limit. Default 2Gi: head block of a small stack with room for WAL replay.")

    @model_validator(mode="after")
    def _retention_fits_volume(self) -> "PrometheusArgs":
        size, volume = prom_size_bytes(self.retention_size) or 0, parse_quantity(self.storage_size) or 0
        if size >= volume:
            raise ValueError(
                f"retentionSize {self.retention_size} must be smaller than storageSize {self.storage_size} "
                "(the WAL and compaction need headroom); lower retentionSize or raise storageSize"
            )
        return self


RESERVED_RECEIVERS = ("default", "null")
"""Receivers every standalone Alertmanager has: ``default`` (the alertmanagerWebhookUrl secret) and ``null`` (drop)."""


class ReceiverArgs(ArgsModel):
    """An extra Alertmanager receiver whose URL is a key of a Secret you manage in the stack namespace, mounted as a file."""

    name: ReceiverName = Field(description="Receiver name routes refer to; a DNS label (it also names the Secret volume). Required.")
    type: Literal["webhook", "slack"] = Field(description="webhook (generic, url_file) or slack (incoming webhook, api_url_file). Required.")
    secret_name: DnsSubdomain = Field(alias="secretName", description="Name of a Secret in the stack namespace holding the URL (you create it; pods can only mount Secrets of their own namespace). Required.")
    secret_key: DataKey = Field(default="url", alias="secretKey", description="Key of the URL in that Secret. Default url.")
    slack_channel: str | None = Field(default=None, alias="slackChannel", description="Slack channel override (type slack). Default None: the incoming webhook's own channel.")
    send_resolved: bool = Field(default=True, alias="sendResolved", description="Also notify when the alert resolves. Default true.")

    @model_validator(mode="after")
    def _slack_channel_needs_slack(self) -> "ReceiverArgs":
        if self.name in RESERVED_RECEIVERS:
            raise ValueError(f"receiver name {self.name!r} is reserved (built-in receivers: {', '.join(RESERVED_RECEIVERS)}); pick another name")
        if self.slack_channel and self.type != "slack":
            raise ValueError(f"slackChannel {self.slack_channel!r} is set but receiver {self.name!r} has type {self.type!r}; use type slack or drop slackChannel")
        return self


class RouteArgs(ArgsModel):
    """One Alertmanager child route: alerts matching every matcher go to ``receiver``."""

    matchers: list[AlertMatcher] = Field(description='Alertmanager matchers, each label OP "value" with OP one of = != =~ !~ (e.g. severity="critical", source=~"phi4.*"). Required, at least one.')
    receiver: str = Field(description="Receiver name: default, null, or one of alertmanager.receivers. Required.")
    continue_: bool = Field(default=False, alias="continue", description="Keep matching later routes after this one. Default false: the first matching route wins.")
    group_by: GroupBy | None = Field(default=None, alias="groupBy", description="Grouping labels for this route. Default None: inherit alertmanager.groupBy.")
    group_wait: Duration | None = Field(default=None, alias="groupWait", description="Default None: inherit alertmanager.groupWait.")
    group_interval: Duration | None = Field(default=None, alias="groupInterval", description="Default None: inherit alertmanager.groupInterval.")
    repeat_interval: Duration | None = Field(default=None, alias="repeatInterval", description="Default None: inherit alertmanager.repeatInterval.")

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("matchers must name at least one matcher, e.g. severity=\"critical\" (a route without matchers catches everything)")
        return value


class AlertmanagerArgs(ArgsModel):
    """Alert routing. The default receiver's URL is the Pulumi secret ``alertmanagerWebhookUrl``, mounted as a file."""

    receiver: Literal["webhook", "slack"] = Field(default="webhook", description="Receiver type for the secret URL: a generic webhook or a Slack incoming webhook. Default webhook.")
    slack_channel: str | None = Field(default=None, alias="slackChannel", description="Slack channel override (receiver slack). Default None: the incoming webhook's own channel.")
    group_by: GroupBy = Field(default_factory=lambda: ["alertname", "job", "severity"], alias="groupBy", description="Labels alerts are grouped by. Default alertname, job, severity: one notification per alert per server.")
    group_wait: Duration = Field(default="30s", alias="groupWait", description="Wait before the first notification of a group. Default 30s.")
    group_interval: Duration = Field(default="5m", alias="groupInterval", description="Wait before notifying about new alerts in a group. Default 5m.")
    repeat_interval: Duration = Field(default="4h", alias="repeatInterval", description="Re-notify interval for warnings. Default 4h.")
    critical_repeat_interval: Duration = Field(default="1h", alias="criticalRepeatInterval", description="Re-notify interval for severity=critical. Default 1h.")
    receiver_ports: list[Port] = Field(default_factory=lambda: [443], alias="receiverPorts", description="TCP ports Alertmanager may connect out to (NetworkPolicy egress). Default [443]: HTTPS webhooks and Slack.")
    receivers: list[ReceiverArgs] = Field(default_factory=list, description="Extra receivers (URL from a Secret you manage). Default []: only default (the alertmanagerWebhookUrl secret) and null.")
    routes: list[RouteArgs] = Field(default_factory=list, description="Child routes, tried in order before the built-in ones (severity=critical -> default with criticalRepeatInterval, severity=info -> null). Default []: the built-in routes only.")

    @field_validator("receiver_ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        if not ports:
            raise ValueError("receiverPorts must name at least one TCP port")
        return ports

    @model_validator(mode="after")
    def _slack_channel_needs_slack(self) -> "AlertmanagerArgs":
        if self.slack_channel and self.receiver != "slack":
            raise ValueError(f"slackChannel {self.slack_channel!r} is set but receiver is {self.receiver!r}; set receiver: slack or drop slackChannel")
        return self

    @model_validator(mode="after")
    def _routes_reference_receivers(self) -> "AlertmanagerArgs":
        names = [r.name for r in self.receivers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"receiver names {dupes} are used more than once; each receiver needs its own name")
        known = [*RESERVED_RECEIVERS, *names]
        for i, route in enumerate(self.routes):
            if route.receiver not in known:
                raise ValueError(f"routes[{i}].receiver {route.receiver!r} is not a receiver; allowed: {', '.join(known)}")
        return self


class GrafanaArgs(ArgsModel):
    """The standalone Grafana."""

    ingress_namespaces: list[DnsLabel] = Field(default_factory=list, alias="ingressNamespaces", description="Namespaces (e.g. your ingress controller's) allowed to reach Grafana on port 3000. Default []: no in-cluster access, use kubectl port-forward.")
    admin_user: str = Field(default="admin", alias="adminUser", description="Grafana admin login; the password is the Pulumi secret grafanaAdminPassword (generated when unset). Default admin.")


class _ScrapeSource(ArgsModel):
    namespace: DnsLabel = Field(description="Namespace of the exporter pods.")
    pod_selector: Labels = Field(alias="podSelector", description="Labels of the exporter pods.")
    port_name: PortName = Field(alias="portName", description="Name of the exporter's metrics container port.")

    @field_validator("pod_selector")
    @classmethod
    def _non_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("podSelector must name at least one label, or every pod in the namespace would be scraped")
        return value


class DcgmExporterArgs(_ScrapeSource):
    """NVIDIA dcgm-exporter, as the GPU operator deploys it: GPU panels and GPU alerts."""

    namespace: DnsLabel = Field(default="gpu-operator", description="Namespace of dcgm-exporter. Default gpu-operator (NVIDIA GPU operator).")
    pod_selector: Labels = Field(default_factory=lambda: {"app": "nvidia-dcgm-exporter"}, alias="podSelector", description="dcgm-exporter pod labels. Default app=nvidia-dcgm-exporter (GPU operator).")
    port_name: PortName = Field(default="metrics", alias="portName", description="Metrics port name. Default metrics (port 9400).")


class KubeStateMetricsArgs(_ScrapeSource):
    """kube-state-metrics, for the restart-loop and OOMKilled alerts."""

    namespace: DnsLabel = Field(default="kube-system", description="Namespace of kube-state-metrics. Default kube-system.")
    pod_selector: Labels = Field(default_factory=lambda: {"app.kubernetes.io/name": "kube-state-metrics"}, alias="podSelector", description="Its pod labels. Default app.kubernetes.io/name=kube-state-metrics (upstream manifests and chart).")
    port_name: PortName = Field(default="http-metrics", alias="portName", description="Metrics port name. Default http-metrics (upstream manifests; the chart uses http).")


class OperatorArgs(ArgsModel):
    """How the cluster's Prometheus Operator and Grafana find our objects (operator mode)."""

    selector_labels: Labels = Field(default_factory=lambda: {"release": "kube-prometheus-stack"}, alias="selectorLabels", description="Labels the operator's podMonitorSelector/probeSelector/ruleSelector match. Default release=kube-prometheus-stack (the chart's default).")
    prometheus_namespace: DnsLabel = Field(default="monitoring", alias="prometheusNamespace", description="Namespace of the cluster's Prometheus, allowed into the blackbox exporter. Default monitoring.")
    dashboard_label: Labels = Field(default_factory=lambda: {"grafana_dashboard": "1"}, alias="dashboardLabel", description="Label the Grafana dashboard sidecar watches. Default grafana_dashboard=1 (kube-prometheus-stack).")
    blackbox_exporter_address: HostAndPort | None = Field(default=None, alias="blackboxExporterAddress", description="host:port of an existing blackbox exporter for Probe objects. Default None: the stack deploys its own when anything is probed.")
    blackbox_exporter_pod_labels: Labels = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus-blackbox-exporter"}, alias="blackboxExporterPodLabels",
        description="Pod labels of that existing blackbox exporter, which is assumed to run in prometheusNamespace; probed servers' "
        "NetworkPolicies let these pods in (prober_peers). Default app.kubernetes.io/name=prometheus-blackbox-exporter "
        "(the prometheus-community chart). Only used with blackboxExporterAddress.",
    )

    @field_validator("blackbox_exporter_pod_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("blackboxExporterPodLabels must name at least one label, or every pod of the namespace would be let in")
        return value


class MonitoringStackArgs(ArgsModel):
    """Stack config key ``monitoring``."""

    mode: Literal["standalone", "operator"] = Field(description="standalone: deploy Prometheus, Alertmanager and Grafana; operator: emit PodMonitor/Probe/PrometheusRule and dashboard ConfigMaps for the cluster's Prometheus Operator. Required.")
    scrape_interval: Duration = Field(default="30s", alias="scrapeInterval", description="Scrape interval of every job. Default 30s.")
    evaluation_interval: Duration = Field(default="30s", alias="evaluationInterval", description="Rule evaluation interval. Default 30s.")
    thresholds: AlertThresholds = Field(default_factory=AlertThresholds, description="Alert thresholds; override any field per stack. Defaults in AlertThresholds.")
    prometheus: PrometheusArgs = Field(default_factory=PrometheusArgs, description="Standalone Prometheus settings. Default: each field's own default (see PrometheusArgs).")
    alertmanager: AlertmanagerArgs = Field(default_factory=AlertmanagerArgs, description="Alert routing (standalone). Default: a webhook receiver, grouped by alertname/job/severity.")
    grafana: GrafanaArgs = Field(default_factory=GrafanaArgs, description="Standalone Grafana settings. Default: no ingress (port-forward only), admin user admin.")
    operator: OperatorArgs = Field(default_factory=OperatorArgs, description="Operator-mode selectors. Default: kube-prometheus-stack's labels and the monitoring namespace.")
    dcgm: DcgmExporterArgs | None = Field(default=None, description="Scrape NVIDIA dcgm-exporter and add GPU alerts/dashboard. Default None: off (CPU-only clusters have no DCGM).")
    kube_state_metrics: KubeStateMetricsArgs | None = Field(default_factory=KubeStateMetricsArgs, alias="kubeStateMetrics", description="kube-state-metrics for restart-loop/OOMKilled alerts. Default on (kube-system); null turns those alerts off.")

    def prometheus_endpoint(self, name: str, namespace: str) -> tuple[str, dict[str, str] | None]:
        """Where this stack's Prometheus answers, and its namespace labels (None: the stack namespace).

        Serving components use it for KEDA queries and to let Prometheus through their
        NetworkPolicies: the standalone server in the stack namespace, or the operator's
        ``prometheus-operated`` Service in ``operator.prometheusNamespace``.
        """
        if self.mode == "standalone":
            return f"http://{name}-prometheus.{namespace}.svc.cluster.local:{PROMETHEUS_PORT}", None
        ns = self.operator.prometheus_namespace
        return f"http://prometheus-operated.{ns}.svc.cluster.local:{PROMETHEUS_PORT}", {"kubernetes.io/metadata.name": ns}

    def scraper_peers(self, name: str, namespace: str) -> list[tuple[dict[str, str], dict[str, str] | None]]:
        """The pods that scrape metrics ports: (pod labels, namespace labels or None for ``namespace``).

        Standalone: this stack's Prometheus (MonitoringStack ``name``) in the stack namespace;
        operator: pods labelled app.kubernetes.io/name=prometheus (the operator's Prometheus
        pods) in ``operator.prometheusNamespace``.
        """
        if self.mode == "standalone":
            return [(selector_labels("prometheus", name), None)]
        return [({"app.kubernetes.io/name": "prometheus"}, {"kubernetes.io/metadata.name": self.operator.prometheus_namespace})]

    def prober_peers(self, name: str, namespace: str) -> list[tuple[dict[str, str], dict[str, str] | None]]:
        """The pods that send blackbox probes to probe targets: (pod labels, namespace labels or None for ``namespace``).

        Standalone, and operator without ``operator.blackboxExporterAddress``: this stack's own
        blackbox exporter (MonitoringStack ``name``) in the stack namespace. Operator with an
        address: the cluster's exporter, *assumed* to run in ``operator.prometheusNamespace``
        with ``operator.blackboxExporterPodLabels`` (default: the prometheus-community chart's).
        """
        if self.mode == "operator" and self.operator.blackbox_exporter_address is not None:
            return [(dict(self.operator.blackbox_exporter_pod_labels), {"kubernetes.io/metadata.name": self.operator.prometheus_namespace})]
        return [(selector_labels("blackbox-exporter", name), None)]

    @model_validator(mode="after")
    def _routing_is_standalone(self) -> "MonitoringStackArgs":
        am = self.alertmanager
        if self.mode == "operator" and (am.routes or am.receivers):
            raise ValueError(
                "alertmanager.routes/receivers configure the standalone Alertmanager; mode is operator, where the cluster's "
                "Alertmanager routes alerts (use an AlertmanagerConfig there) — drop them or use mode standalone"
            )
        return self

