"""Standalone mode: hardened Prometheus, Alertmanager, Grafana and blackbox exporter in the stack namespace.

Every pod is built from :mod:`components.hardening` (non-root UID 10001, read-only
root, no capabilities, RuntimeDefault seccomp, requests and limits, probes), pinned
by digest from versions.yaml, and fenced by its own NetworkPolicy.

Prometheus needs a Kubernetes API token for pod discovery. Rather than turning on
``automountServiceAccountToken`` it mounts a short-lived projected token
(1 h, rotated by the kubelet) bound to a ServiceAccount whose Roles allow only
get/list/watch on pods in the namespaces it scrapes.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_kubernetes.core.v1 import (
    ConfigMapVolumeSourceArgs,
    EnvVarArgs,
    PersistentVolumeClaimVolumeSourceArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.hardening import (
    egress_api_server,
    egress_public,
    egress_to_pods,
    ingress_from_pods,
    resources,
    scratch_volume,
    secret_file_volume,
)
from components.monitoring.args import MonitoringStackArgs
from components.monitoring.blackbox import deploy_blackbox
from components.monitoring.builder import Builder, config_checksum, server_container
from components.monitoring.constants import ALERTMANAGER_PORT, BLACKBOX_PORT, GRAFANA_PORT, PROMETHEUS_PORT
from components.monitoring.prometheus_config import prometheus_config, scrape_configs, to_yaml
from components.observability import MonitoringContribution
from components.versions import image

__all__ = ["deploy_standalone", "alertmanager_config", "receiver_url_file", "grafana_provisioning"]

_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_RECEIVER_DIR = "/etc/alertmanager/secrets"
_EXTRA_RECEIVERS_DIR = "/etc/alertmanager/receivers"
_SLACK_TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})'
_SLACK_TEXT = "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook }}\n{{ end }}"


def receiver_url_file(receiver: str, key: str) -> str:
    """Where an extra receiver's Secret key is mounted in the Alertmanager pod."""
    return f"{_EXTRA_RECEIVERS_DIR}/{receiver}/{key}"


def _notifier(kind: str, url_file: str, *, send_resolved: bool = True, slack_channel: str | None = None) -> dict[str, Any]:
    if kind == "webhook":
        return {"webhook_configs": [{"url_file": url_file, "send_resolved": send_resolved}]}
    slack: dict[str, Any] = {"api_url_file": url_file, "send_resolved": send_resolved, "title": _SLACK_TITLE, "text": _SLACK_TEXT}
    if slack_channel:
        slack["channel"] = slack_channel
    return {"slack_configs": [slack]}


def _ns_labels(ns: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": ns}


def alertmanager_config(args: MonitoringStackArgs, *, has_receiver: bool) -> str:
    """alertmanager.yml without secrets: every receiver URL is read from a mounted file (url_file / api_url_file).

    Routes: the user's ``alertmanager.routes`` in order, then the built-in ones
    (critical -> default at criticalRepeatInterval, info -> null).
    """
    am = args.alertmanager
    default: dict[str, Any] = {"name": "default"}
    if has_receiver:
        default.update(_notifier(am.receiver, f"{_RECEIVER_DIR}/url", slack_channel=am.slack_channel))
    receivers = [default, {"name": "null"}]
    for r in am.receivers:
        receivers.append({"name": r.name, **_notifier(r.type, receiver_url_file(r.name, r.secret_key), send_resolved=r.send_resolved, slack_channel=r.slack_channel)})
    routes: list[dict[str, Any]] = []
    for r in am.routes:
        route: dict[str, Any] = {"matchers": list(r.matchers), "receiver": r.receiver}
        for key, value in (("group_by", r.group_by), ("group_wait", r.group_wait), ("group_interval", r.group_interval), ("repeat_interval", r.repeat_interval)):
            if value is not None:
                route[key] = value
        if r.continue_:
            route["continue"] = True
        routes.append(route)
    routes += [
        {"matchers": ['severity="critical"'], "receiver": "default", "repeat_interval": am.critical_repeat_interval},
        {"matchers": ['severity="info"'], "receiver": "null"},
    ]
    return to_yaml(
        {
            "route": {
                "receiver": "default",
                "group_by": am.group_by,
                "group_wait": am.group_wait,
                "group_interval": am.group_interval,
                "repeat_interval": am.repeat_interval,
                "routes": routes,
            },
            "inhibit_rules": [
                {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'], "equal": ["job", "namespace"]},
                # No vLLM target up at all: the per-pod VllmTargetDown alerts add nothing.
                {"source_matchers": ['alertname="VllmNoTargetUp"'], "target_matchers": ['alertname="VllmTargetDown"'], "equal": ["job", "namespace"]},
            ],
            "receivers": receivers,
        }
    )


def grafana_provisioning(prometheus_url: str, dashboards_dir: str) -> dict[str, str]:
    """Grafana provisioning files: the Prometheus datasource and the dashboard provider."""
    datasources = {
        "apiVersion": 1,
        "datasources": [
            {"name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy", "url": prometheus_url, "isDefault": True, "editable": False}
        ],
    }
    providers = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "slm-deploy",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": dashboards_dir},
            }
        ],
    }
    return {"datasources.yaml": to_yaml(datasources), "dashboards.yaml": to_yaml(providers)}


def deploy_standalone(
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
    storage_class: str | None,
    api_server_cidrs: tuple[str, ...] = (),
    grafana_admin_password: pulumi.Input[str] | None,
    alert_webhook_url: pulumi.Input[str] | None,
) -> dict[str, Any]:
    b = Builder(parent, name, namespace, part_of)
    prom_img, am_img, graf_img = image("prometheus"), image("alertmanager"), image("grafana")
    prom, am, graf = f"{name}-prometheus", f"{name}-alertmanager", f"{name}-grafana"
    prom_sel, graf_sel = b.selector("prometheus"), b.selector("grafana")
    has_probes = any(c.probe_targets for c in contributions)

    # --- blackbox exporter (only when something is probed)
    [(scraper, scraper_ns)] = args.scraper_peers(name, namespace)
    blackbox_address = deploy_blackbox(b, contributions=contributions, scraper_selectors=[scraper], scraper_namespace=scraper_ns) if has_probes else None

    # --- Prometheus
    jobs = scrape_configs(contributions, stack_namespace=namespace, part_of=part_of, scrape_interval=args.scrape_interval, blackbox_address=blackbox_address)
    prom_yaml = to_yaml(
        prometheus_config(
            jobs,
            scrape_interval=args.scrape_interval,
            evaluation_interval=args.evaluation_interval,
            rule_files=["/etc/prometheus/rules/*.rules.yaml"],
            alertmanager_address=f"{am}.{namespace}.svc:{ALERTMANAGER_PORT}",
            external_labels={"namespace_stack": namespace},
        )
    )
    b.config_map(prom, "prometheus", prom_img.tag, {"prometheus.yml": prom_yaml})
    b.config_map(f"{prom}-rules", "prometheus", prom_img.tag, {"slm.rules.yaml": rules_yaml})

    k8s.core.v1.ServiceAccount(prom, metadata=b.meta(prom, "prometheus", prom_img.tag), automount_service_account_token=False, opts=b.opts)
    discovery_namespaces = sorted({t.namespace for c in contributions for t in c.scrape_targets})
    for ns in discovery_namespaces:
        role = f"{prom}-discovery" if ns == namespace else f"{prom}-discovery-{ns}"
        meta = ObjectMetaArgs(name=role, namespace=ns, labels=b.labels("prometheus", prom_img.tag))
        k8s.rbac.v1.Role(role, metadata=meta, rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods"], verbs=["get", "list", "watch"])], opts=b.opts)
        k8s.rbac.v1.RoleBinding(
            role, metadata=meta,
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=role),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=prom, namespace=namespace)],
            opts=b.opts,
        )
    k8s.core.v1.PersistentVolumeClaim(
        f"{prom}-data",
        metadata=b.meta(f"{prom}-data", "prometheus", prom_img.tag),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            storage_class_name=storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": args.prometheus.storage_size}),
        ),
        opts=b.opts,
    )
    token_volume = VolumeArgs(
        name="discovery-token",
        projected=k8s.core.v1.ProjectedVolumeSourceArgs(
            default_mode=0o444,
            sources=[
                k8s.core.v1.VolumeProjectionArgs(service_account_token=k8s.core.v1.ServiceAccountTokenProjectionArgs(path="token", expiration_seconds=3600)),
                k8s.core.v1.VolumeProjectionArgs(config_map=k8s.core.v1.ConfigMapProjectionArgs(name="kube-root-ca.crt", items=[k8s.core.v1.KeyToPathArgs(key="ca.crt", path="ca.crt")])),
                k8s.core.v1.VolumeProjectionArgs(downward_api=k8s.core.v1.DownwardAPIProjectionArgs(items=[
                    k8s.core.v1.DownwardAPIVolumeFileArgs(path="namespace", field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.namespace"))
                ])),
            ],
        ),
    )
    p = args.prometheus
    prom_container = server_container(
        "prometheus", prom_img.ref,
        [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={p.retention_time}",
            f"--storage.tsdb.retention.size={p.retention_size}",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
            "--log.format=json",
        ],
        PROMETHEUS_PORT, "http",
        [
            VolumeMountArgs(name="config", mount_path="/etc/prometheus/prometheus.yml", sub_path="prometheus.yml", read_only=True),
            VolumeMountArgs(name="rules", mount_path="/etc/prometheus/rules", read_only=True),
            VolumeMountArgs(name="data", mount_path="/prometheus"),
            VolumeMountArgs(name="discovery-token", mount_path=_SA_DIR, read_only=True),
        ],
        ready="/-/ready", live="/-/healthy",
        res=resources(p.cpu_request, p.memory_request, cpu_limit=p.cpu_limit, memory_limit=p.memory_limit),
        startup_failures=60,  # WAL replay after a restart can take minutes
    )
    b.deployment(
        prom, "prometheus", prom_img.tag, prom_container,
        [
            VolumeArgs(name="config", config_map=ConfigMapVolumeSourceArgs(name=prom, default_mode=0o444)),
            VolumeArgs(name="rules", config_map=ConfigMapVolumeSourceArgs(name=f"{prom}-rules", default_mode=0o444)),
            VolumeArgs(name="data", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(claim_name=f"{prom}-data")),
            token_volume,
        ],
        checksum=config_checksum(prom_yaml, rules_yaml), service_account=prom, recreate=True,
    )
    b.service(prom, "prometheus", prom_img.tag, PROMETHEUS_PORT, "http")
    prom_egress = [
        # Kubernetes API for pod discovery (the API server has no pod labels to select on): the declared
        # cluster.apiServerCidrs, else the private ranges where the in-cluster API address lives.
        egress_api_server(api_server_cidrs),
        egress_to_pods([b.selector("alertmanager")], [ALERTMANAGER_PORT]),
    ]
    for c in contributions:
        for t in c.scrape_targets:
            ns_labels = None if t.namespace == namespace else _ns_labels(t.namespace)
            prom_egress.append(egress_to_pods([t.pod_selector], [t.port_name], namespace_labels=ns_labels))
    if has_probes:
        prom_egress.append(egress_to_pods([b.selector("blackbox-exporter")], [BLACKBOX_PORT]))
    b.network_policy(prom, "prometheus", prom_img.tag, [ingress_from_pods([graf_sel], [PROMETHEUS_PORT])], prom_egress)

    # --- Alertmanager
    has_receiver = alert_webhook_url is not None
    am_yaml = alertmanager_config(args, has_receiver=has_receiver)
    b.config_map(am, "alertmanager", am_img.tag, {"alertmanager.yml": am_yaml})
    am_mounts = [
        VolumeMountArgs(name="config", mount_path="/etc/alertmanager/alertmanager.yml", sub_path="alertmanager.yml", read_only=True),
    ]
    am_volumes = [VolumeArgs(name="config", config_map=ConfigMapVolumeSourceArgs(name=am, default_mode=0o444))]
    data_vol, data_mount = scratch_volume("data", "/alertmanager", size_limit="256Mi")
    am_volumes.append(data_vol)
    am_mounts.append(data_mount)
    if has_receiver:
        k8s.core.v1.Secret(
            f"{am}-receiver", metadata=b.meta(f"{am}-receiver", "alertmanager", am_img.tag),
            type="Opaque", string_data={"url": pulumi.Output.secret(alert_webhook_url)}, opts=b.opts,
        )
        vol, mount = secret_file_volume("receiver", f"{am}-receiver", _RECEIVER_DIR)
        am_volumes.append(vol)
        am_mounts.append(mount)
    for r in args.alertmanager.receivers:
        # Secrets the user manages (not created here); only the URL key is projected.
        vol, mount = secret_file_volume(f"receiver-{r.name}", r.secret_name, f"{_EXTRA_RECEIVERS_DIR}/{r.name}", items={r.secret_key: r.secret_key})
        am_volumes.append(vol)
        am_mounts.append(mount)
    am_container = server_container(
        "alertmanager", am_img.ref,
        [
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
            f"--web.listen-address=:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",  # single replica: no gossip port
            "--log.format=json",
        ],
        ALERTMANAGER_PORT, "http", am_mounts, ready="/-/ready", live="/-/healthy",
        res=resources("50m", "64Mi", cpu_limit="200m", memory_limit="256Mi"), startup_failures=6,
    )
    b.deployment(am, "alertmanager", am_img.tag, am_container, am_volumes, checksum=config_checksum(am_yaml),
                 external_secrets=[r.secret_name for r in args.alertmanager.receivers])
    b.service(am, "alertmanager", am_img.tag, ALERTMANAGER_PORT, "http")
    b.network_policy(
        am, "alertmanager", am_img.tag,
        [ingress_from_pods([prom_sel], [ALERTMANAGER_PORT])],
        [egress_public(args.alertmanager.receiver_ports, also_except=api_server_cidrs)],
    )

    # --- Grafana
    if grafana_admin_password is None:
        grafana_admin_password = random.RandomPassword(f"{graf}-admin-password", length=32, special=False, opts=b.opts).result
    secret_key = random.RandomPassword(f"{graf}-secret-key", length=40, special=False, opts=b.opts).result
    k8s.core.v1.Secret(
        graf, metadata=b.meta(graf, "grafana", graf_img.tag), type="Opaque",
        string_data={"admin-password": pulumi.Output.secret(grafana_admin_password), "secret-key": pulumi.Output.secret(secret_key)},
        opts=b.opts,
    )
    dashboards_dir = "/var/lib/grafana-dashboards"
    provisioning = grafana_provisioning(f"http://{prom}.{namespace}.svc:{PROMETHEUS_PORT}", dashboards_dir)
    b.config_map(f"{graf}-provisioning", "grafana", graf_img.tag, provisioning)
    b.config_map(f"{graf}-dashboards", "grafana", graf_img.tag, dict(sorted(dashboards.items())))
    secret_vol, secret_mount = secret_file_volume("secrets", graf, "/etc/grafana/secrets")
    graf_volumes = [
        secret_vol,
        VolumeArgs(name="provisioning", config_map=ConfigMapVolumeSourceArgs(
            name=f"{graf}-provisioning", default_mode=0o444,
            items=[k8s.core.v1.KeyToPathArgs(key="datasources.yaml", path="datasources/datasources.yaml"),
                   k8s.core.v1.KeyToPathArgs(key="dashboards.yaml", path="dashboards/dashboards.yaml")],
        )),
        VolumeArgs(name="dashboards", config_map=ConfigMapVolumeSourceArgs(name=f"{graf}-dashboards", default_mode=0o444)),
    ]
    graf_mounts = [
        secret_mount,
        VolumeMountArgs(name="provisioning", mount_path="/etc/grafana/provisioning", read_only=True),
        VolumeMountArgs(name="dashboards", mount_path=dashboards_dir, read_only=True),
    ]
    for vol_name, path, size in (("data", "/var/lib/grafana", "1Gi"), ("logs", "/var/log/grafana", "128Mi"), ("tmp", "/tmp", "128Mi")):
        vol, mount = scratch_volume(vol_name, path, size_limit=size)
        graf_volumes.append(vol)
        graf_mounts.append(mount)
    env = {
        "GF_SECURITY_ADMIN_USER": args.grafana.admin_user,
        "GF_SECURITY_ADMIN_PASSWORD__FILE": "/etc/grafana/secrets/admin-password",
        "GF_SECURITY_SECRET_KEY__FILE": "/etc/grafana/secrets/secret-key",
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        "GF_SECURITY_COOKIE_SECURE": "true",
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        "GF_PLUGINS_PREINSTALL_DISABLED": "true",
        "GF_PATHS_DATA": "/var/lib/grafana",
        "GF_PATHS_LOGS": "/var/log/grafana",
        "GF_PATHS_PROVISIONING": "/etc/grafana/provisioning",
        "GF_LOG_MODE": "console",
        "GF_LOG_CONSOLE_FORMAT": "json",
    }
    graf_container = server_container(
        "grafana", graf_img.ref, [], GRAFANA_PORT, "http", graf_mounts, ready="/api/health", live="/api/health",
        res=resources("100m", "256Mi", cpu_limit="500m", memory_limit="512Mi"),
        env=[EnvVarArgs(name=k, value=v) for k, v in env.items()], startup_failures=30,
    )
    b.deployment(graf, "grafana", graf_img.tag, graf_container, graf_volumes, checksum=config_checksum(*provisioning.values(), *dashboards.values()))
    b.service(graf, "grafana", graf_img.tag, GRAFANA_PORT, "http")
    graf_ingress = [ingress_from_pods([{}], [GRAFANA_PORT], namespace_labels=_ns_labels(ns)) for ns in args.grafana.ingress_namespaces]
    b.network_policy(graf, "grafana", graf_img.tag, graf_ingress, [egress_to_pods([prom_sel], [PROMETHEUS_PORT])])

    return {
        "mode": "standalone",
        "prometheusUrl": f"http://{prom}.{namespace}.svc:{PROMETHEUS_PORT}",
        "alertmanagerUrl": f"http://{am}.{namespace}.svc:{ALERTMANAGER_PORT}",
        "grafanaUrl": f"http://{graf}.{namespace}.svc:{GRAFANA_PORT}",
        "grafanaAdminSecret": graf,
        "scrapeJobs": [j["job_name"] for j in jobs],
        "ruleGroups": [g["name"] for g in rule_groups],
        "dashboards": sorted(dashboards),
        "alertReceiver": args.alertmanager.receiver if has_receiver else "none (set the alertmanagerWebhookUrl secret)",
        "alertReceivers": ["default", *(r.name for r in args.alertmanager.receivers)],
    }
