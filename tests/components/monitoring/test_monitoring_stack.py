"""MonitoringStack: Args rules, composition from contributions, security fields, dashboards, operator objects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from components.monitoring.dashboards import dashboard_queries
from components.monitoring.metrics import VLLM_DEPRECATED, known_series, metric_names_in
from components.monitoring import (
    AlertmanagerArgs,
    DcgmExporterArgs,
    MonitoringStack,
    MonitoringStackArgs,
    OperatorArgs,
    PrometheusArgs,
)
from components.observability import AlertThresholds
from components.probe_monitoring import probe_contribution
from components.vllm.monitoring import VLLM_ALERTS, vllm_contribution
from stacks.loader import load_stack
from stacks.errors import ConfigError
from slm_deploy.gate.schema_validation import validate_manifests
from tests_monitoring_helpers import NS, build_custom, build_reference, custom_contributions, dashboard_files

from tests.conftest import write_stack


@pytest.fixture(scope="module")
def builds(tmp_path_factory, synthesized) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("monstack")
    return {
        "staging": build_reference(synthesized("staging"), root / "staging"),
        "prod": build_reference(synthesized("prod"), root / "prod"),
        "custom": build_custom(root / "custom", mode="standalone"),
        "custom-operator": build_custom(root / "custom-operator", mode="operator"),
        "one": build_custom(root / "one", mode="standalone", contributions=custom_contributions(1)[:1]),
    }


def _manifests(build: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((build / "manifests").glob("*.yaml"))]


def _kind(build: Path, kind: str) -> list[dict]:
    return [m for m in _manifests(build) if m["kind"] == kind]


def _by_name(build: Path, kind: str, name: str) -> dict:
    [obj] = [m for m in _kind(build, kind) if m["metadata"]["name"] == name]
    return obj


def _prom_config(build: Path) -> dict:
    return yaml.safe_load((build / "files/monitoring-prometheus/prometheus.yml").read_text())


# --------------------------------------------------------------------------- Args rules


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (PrometheusArgs, {"retentionTime": "two weeks"}, "must be a non-zero duration"),
        (PrometheusArgs, {"retentionSize": "8Gi"}, "must be a Prometheus size"),
        (PrometheusArgs, {"storageSize": "10 GB"}, "must be a storage quantity.*no space between number and unit"),
        (PrometheusArgs, {"retentionSize": "20GB", "storageSize": "10Gi"}, "retentionSize 20GB must be smaller than storageSize 10Gi"),
        (AlertmanagerArgs, {"repeatInterval": "often"}, "must be a non-zero duration"),
        (AlertmanagerArgs, {"receiverPorts": [0]}, "must be a port number from 1 to 65535"),
        (AlertmanagerArgs, {"slackChannel": "#ops"}, "slackChannel '#ops' is set but receiver is 'webhook'"),
        (DcgmExporterArgs, {"podSelector": {}}, "podSelector must name at least one label"),
        (OperatorArgs, {"blackboxExporterAddress": "http://bb:9115"}, "must be host:port"),
        (MonitoringStackArgs, {"mode": "standalone", "scrapeInterval": "30"}, "scrapeInterval\n  Value error, must be a non-zero duration"),
        (MonitoringStackArgs, {"mode": "standalone", "thresholds": {"queueFor": "soon"}}, "queueFor\n  Value error, must be a non-zero duration"),
        (MonitoringStackArgs, {"mode": "sidecar"}, "'standalone' or 'operator'"),
        (MonitoringStackArgs, {}, "mode\n  Field required"),
        (MonitoringStackArgs, {"mode": "standalone", "grafana": {"adminPassword": "x"}}, "Extra inputs are not permitted"),
    ],
)
def test_args_rules(model, data, message):
    with pytest.raises(ValidationError, match=message):
        model.model_validate(data)


def test_operator_mode_needs_prometheus_operator(scratch_project):
    write_stack(scratch_project, "t", "config:\n  slm-deploy:monitoring:\n    mode: operator\n")
    with pytest.raises(ConfigError, match="monitoring.mode operator needs cluster.prometheusOperator true"):
        load_stack("t", scratch_project)


def test_monitoring_needs_kubernetes_target(scratch_project):
    write_stack(scratch_project, "t", "config:\n  slm-deploy:target: docker\n  slm-deploy:monitoring:\n    mode: standalone\n")
    with pytest.raises(ConfigError, match="monitoring needs target kubernetes; target is docker"):
        load_stack("t", scratch_project)


def test_duplicate_sources_are_refused():
    twice = [vllm_contribution("a", NS, {"x": "1"}, "metrics", []), vllm_contribution("a", NS, {"x": "2"}, "metrics", [])]
    with pytest.raises(ValueError, match="two monitoring contributions share the source 'a'"):
        MonitoringStack.gather(MonitoringStackArgs(mode="standalone"), twice, namespace=NS)


def test_contribution_inputs_are_checked():
    with pytest.raises(ValueError, match="source must be a non-empty name"):
        vllm_contribution("", NS, {"x": "1"}, "metrics", [])
    with pytest.raises(ValueError, match="engine 'tgi' is not probed"):
        probe_contribution("s", "tgi", "j", "http://x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be an http:// or https:// URL"):
        probe_contribution("s", "ollama", "j", "ollama:11434")


# --------------------------------------------------------------------------- composition


def test_second_vllm_adds_job_rules_and_dashboard_row(builds):
    one, two = builds["one"], builds["custom"]
    jobs_one = [j["job_name"] for j in _prom_config(one)["scrape_configs"]]
    jobs_two = [j["job_name"] for j in _prom_config(two)["scrape_configs"]]
    assert "llm-0" in jobs_one and "llm-1" not in jobs_one
    assert {"llm-0", "llm-1"} <= set(jobs_two)
    groups = yaml.safe_load((two / "files/monitoring-prometheus-rules/slm.rules.yaml").read_text())["groups"]
    by_group = {g["name"]: [r["alert"] for r in g["rules"]] for g in groups}
    assert by_group["slm-llm-0"] == list(VLLM_ALERTS) and by_group["slm-llm-1"] == list(VLLM_ALERTS)
    assert all('job="llm-1"' in r["expr"] for g in groups if g["name"] == "slm-llm-1" for r in g["rules"])
    dash = json.loads((two / "files/monitoring-grafana-dashboards/vllm.json").read_text())
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == ["llm-0", "llm-1"]
    # operator mode: one PodMonitor per vLLM and a rule group each
    monitors = {m["metadata"]["name"] for m in _kind(builds["custom-operator"], "PodMonitor")}
    assert {"monitoring-llm-0", "monitoring-llm-1", "monitoring-dcgm-exporter"} == monitors


def test_reference_stacks_monitor_their_vllm_services(builds):
    staging_jobs = [j["job_name"] for j in _prom_config(builds["staging"])["scrape_configs"]]
    assert staging_jobs == ["phi4-mini", "dcgm-exporter", "kube-state-metrics"]
    monitors = {m["spec"]["podMetricsEndpoints"][0]["relabelings"][0]["replacement"] for m in _kind(builds["prod"], "PodMonitor")}
    assert monitors == {"phi4-mini", "qwen3-8b", "dcgm-exporter", "gateway", "gateway-router"}
    [rule] = _kind(builds["prod"], "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert {g["name"] for g in rule["spec"]["groups"]} == {"slm-phi4-mini", "slm-qwen3-8b", "slm-gateway", "slm-gpu", "slm-pods"}
    ttft = [r for g in rule["spec"]["groups"] for r in g["rules"] if r["alert"] == "VllmTtftP95High"]
    assert all(r["expr"].endswith("> 1.5") for r in ttft)  # prod overrides the threshold


def test_scrape_job_keeps_by_labels_and_port_name(builds):
    [job] = [j for j in _prom_config(builds["custom"])["scrape_configs"] if j["job_name"] == "llm-1"]
    assert job["kubernetes_sd_configs"][0]["namespaces"] == {"names": [NS]}
    keeps = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
    assert keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_instance",)] == r"llm\-1"
    assert keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_part_of",)] == r"slm\-deploy"
    assert keeps[("__meta_kubernetes_pod_container_port_name",)] == "metrics"
    [probe] = [j for j in _prom_config(builds["custom"])["scrape_configs"] if j["job_name"] == "ollama-probe"]
    assert probe["metrics_path"] == "/probe" and probe["relabel_configs"][-1]["replacement"].startswith("monitoring-blackbox-exporter.")


# --------------------------------------------------------------------------- security fields


def _pods(build: Path) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in _kind(build, "Deployment") if d["metadata"]["name"].startswith("monitoring-")}


def test_every_monitoring_pod_is_hardened(builds):
    pods = _pods(builds["custom"])
    assert set(pods) == {"monitoring-prometheus", "monitoring-alertmanager", "monitoring-grafana", "monitoring-blackbox-exporter"}
    for name, pod in pods.items():
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 10000
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"] and sc["privileged"] is False
            assert "@sha256:" in c["image"]
            assert set(c["resources"]["limits"]) >= {"cpu", "memory"} and set(c["resources"]["requests"]) >= {"cpu", "memory"}
            assert c["livenessProbe"] and c["readinessProbe"] and c["startupProbe"]
            assert not any("secretKeyRef" in json.dumps(e) for e in c.get("env", []))
    policies = {p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in _kind(builds["custom"], "NetworkPolicy")}
    assert policies == {"prometheus", "alertmanager", "grafana", "blackbox-exporter"}


def test_prometheus_discovery_token_is_projected_and_scoped(builds):
    pod = _pods(builds["staging"])["monitoring-prometheus"]
    [token] = [v for v in pod["volumes"] if v["name"] == "discovery-token"]
    assert token["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    roles = _kind(builds["staging"], "Role")
    mon_roles = [r for r in roles if r["metadata"]["name"].startswith("monitoring-prometheus-discovery")]
    assert {r["metadata"]["namespace"] for r in mon_roles} == {"slm-staging", "gpu-operator", "kube-system"}
    for r in mon_roles:
        assert r["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    [sa] = [s for s in _kind(builds["staging"], "ServiceAccount") if s["metadata"]["name"] == "monitoring-prometheus"]
    assert sa["automountServiceAccountToken"] is False


def test_prometheus_has_pvc_and_retention(builds):
    [c] = _pods(builds["staging"])["monitoring-prometheus"]["containers"]
    assert "--storage.tsdb.retention.time=7d" in c["args"] and "--storage.tsdb.retention.size=8GB" in c["args"]
    pvc = _by_name(builds["staging"], "PersistentVolumeClaim", "monitoring-prometheus-data")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_secrets_are_files_not_env(builds):
    [c] = _pods(builds["custom"])["monitoring-grafana"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/secrets/admin-password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env and env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    secret = _by_name(builds["custom"], "Secret", "monitoring-grafana")
    assert secret["stringData"]["admin-password"] == "[secret]"
    receiver = _by_name(builds["custom"], "Secret", "monitoring-alertmanager-receiver")
    assert receiver["stringData"]["url"] == "[secret]"
    am = yaml.safe_load((builds["custom"] / "files/monitoring-alertmanager/alertmanager.yml").read_text())
    assert am["receivers"][0]["webhook_configs"][0]["url_file"] == "/etc/alertmanager/secrets/url"
    assert "hooks.example.com" not in json.dumps(am)


def test_without_webhook_no_receiver_secret(tmp_path):
    build = build_custom(tmp_path, mode="standalone", webhook=False)
    assert not [s for s in _kind(build, "Secret") if s["metadata"]["name"] == "monitoring-alertmanager-receiver"]
    am = yaml.safe_load((build / "files/monitoring-alertmanager/alertmanager.yml").read_text())
    assert am["receivers"][0] == {"name": "default"}


# --------------------------------------------------------------------------- dashboards and metric names


@pytest.mark.parametrize("build", ["staging", "prod", "custom"])
def test_dashboards_are_valid_and_query_known_metrics(builds, build):
    files = dashboard_files(builds[build])
    assert files
    known = known_series()
    for f in files:
        dash = json.loads(f.read_text())
        assert dash["uid"] and len(dash["uid"]) <= 40 and dash["panels"] and dash["schemaVersion"] >= 36
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert "datasource" in variables and any(v["type"] == "query" for v in variables.values()), f
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids))
        for q in dashboard_queries(dash):
            names = metric_names_in(q)
            assert names, f"{f.name}: no metric in {q!r}"
            assert names <= known, f"{f.name}: unknown metric(s) {names - known} in {q!r}"
            assert not names & set(VLLM_DEPRECATED), f"{f.name}: deprecated vLLM metric in {q!r}"


@pytest.mark.parametrize("build", ["staging", "prod", "custom"])
def test_rules_query_known_metrics(builds, build):
    known = known_series()
    for f in builds[build].glob("files/monitoring/rules/*.rules.yaml"):
        for g in yaml.safe_load(f.read_text())["groups"]:
            for r in g["rules"]:
                assert metric_names_in(r["expr"]) <= known, r["expr"]
                assert r["for"] and r["labels"]["severity"] in {"critical", "warning", "info"}
                assert {"summary", "description", "runbook"} <= set(r["annotations"])


def test_vllm_dashboard_covers_the_issue_list(builds):
    dash = json.loads((builds["staging"] / "files/monitoring-grafana-dashboards/vllm.json").read_text())
    exprs = " ".join(dashboard_queries(dash))
    for metric in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:time_to_first_token_seconds_bucket",
                   "vllm:inter_token_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
                   "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:kv_cache_usage_perc",
                   "vllm:num_preemptions_total", "vllm:request_success_total", "http_requests_total"):
        assert metric in exprs, metric
    for p in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({p}, sum by (model_name, le) (rate(vllm:time_to_first_token_seconds_bucket" in exprs


def test_operator_dashboards_carry_sidecar_label(builds):
    maps = [m for m in _kind(builds["prod"], "ConfigMap") if m["metadata"]["name"].startswith("monitoring-dashboard-")]
    assert {m["metadata"]["name"] for m in maps} == {"monitoring-dashboard-vllm", "monitoring-dashboard-gpu", "monitoring-dashboard-pods",
                                                     "monitoring-dashboard-gateway"}
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)
    probes = _kind(builds["custom-operator"], "Probe")
    assert {p["spec"]["jobName"] for p in probes} == {"ollama-probe", "edge-1-probe"}
    assert all(p["spec"]["prober"]["url"] == f"monitoring-blackbox-exporter.{NS}.svc:9115" for p in probes)
    assert not [d for d in _kind(builds["prod"], "Deployment") if d["metadata"]["name"] == "monitoring-prometheus"]


@pytest.mark.parametrize("build", ["staging", "prod", "custom", "custom-operator"])
def test_manifests_pass_strict_schema_validation(builds, build):
    assert validate_manifests(builds[build] / "manifests") == []


# --------------------------------------------------------------------------- namespace scoping (issue 6, item 1)


def _rule_exprs(build: Path) -> dict[str, str]:
    groups = yaml.safe_load(next(build.glob("files/monitoring/rules/*.rules.yaml")).read_text())["groups"]
    return {f"{g['name']}/{r['alert']}": r["expr"] for g in groups for r in g["rules"]}


@pytest.mark.parametrize("build", ["custom", "custom-operator"])
def test_every_serving_rule_and_panel_is_namespace_scoped(builds, build):
    for key, expr in _rule_exprs(builds[build]).items():
        if key.startswith("slm-gpu/"):
            continue  # GPUs are per node, not per stack
        assert expr.count(f'namespace="{NS}"') >= 1 and "namespace=\"" in expr, key
        # every selector of the serving job carries the namespace, not just one of them
        for selector in re.findall(r'\{[^{}]*job="[^"]+"[^{}]*\}', expr):
            assert f'namespace="{NS}"' in selector, (key, selector)
    for f in dashboard_files(builds[build]):
        dash = json.loads(f.read_text())
        [var] = [v for v in dash["templating"]["list"] if v["type"] == "query"]
        if f.name != "gpu.json":
            assert f'namespace="{NS}"' in var["query"]["query"] and var["definition"] == var["query"]["query"], f.name
        for p in dash["panels"]:
            for t in p.get("targets", []):
                if "job=" in t["expr"]:
                    assert f'namespace="{NS}"' in t["expr"], (f.name, t["expr"])


def test_probe_contribution_without_namespace_is_scoped_by_the_stack():
    bare = probe_contribution("ollama", "ollama", "ollama-probe", "http://ollama:8080/api/version")
    assert 'namespace="' not in bare.alert_rules(AlertThresholds())[0].expr
    [scoped_c] = [c for c in MonitoringStack.gather(MonitoringStackArgs(mode="standalone", kubeStateMetrics=None), [bare], namespace="ns-a")]
    assert 'probe_success{job="ollama-probe", namespace="ns-a"}' in scoped_c.alert_rules(AlertThresholds())[0].expr
    assert scoped_c.probe_targets[0].labels["namespace"] == "ns-a"


def test_scrape_paths_attach_the_namespace_label(builds):
    jobs = {j["job_name"]: j for j in _prom_config(builds["custom"])["scrape_configs"]}
    relabel = jobs["llm-0"]["relabel_configs"]
    assert {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"} in relabel
    assert jobs["llm-0"]["honor_labels"] is False  # the target's namespace wins over anything the pod exports
    for probe in ("ollama-probe", "edge-1-probe"):
        assert jobs[probe]["static_configs"][0]["labels"]["namespace"] == NS
    for p in _kind(builds["custom-operator"], "Probe"):
        assert p["spec"]["targets"]["staticConfig"]["labels"]["namespace"] == NS
    for m in _kind(builds["custom-operator"], "PodMonitor"):
        # no relabeling may overwrite the operator's default namespace label
        assert all(r.get("targetLabel") != "namespace" for r in m["spec"]["podMetricsEndpoints"][0]["relabelings"])
        if m["metadata"]["name"].startswith("monitoring-llm-"):
            assert m["spec"]["podMetricsEndpoints"][0]["honorLabels"] is False


# --------------------------------------------------------------------------- absent targets (item 2)


def test_no_target_up_rule_and_scale_to_zero():
    c = vllm_contribution("phi", "ns-a", {"x": "1"}, "metrics", ["m"])
    [rule] = [r for r in c.alert_rules(AlertThresholds()) if r.name == "VllmNoTargetUp"]
    sel = 'up{job="phi", namespace="ns-a"}'
    assert rule.expr == f"absent({sel}) or sum by (job, namespace) ({sel}) == 0" and rule.for_ == "15m"
    zero = vllm_contribution("phi", "ns-a", {"x": "1"}, "metrics", ["m"], min_replicas=0)
    assert "VllmNoTargetUp" not in [r.name for r in zero.alert_rules(AlertThresholds())]
    with pytest.raises(ValueError, match="namespace must be the vLLM pods' namespace"):
        vllm_contribution("phi", "", {"x": "1"}, "metrics", [])


def test_no_target_up_inhibits_target_down(builds):
    am = yaml.safe_load((builds["custom"] / "files/monitoring-alertmanager/alertmanager.yml").read_text())
    assert {"source_matchers": ['alertname="VllmNoTargetUp"'], "target_matchers": ['alertname="VllmTargetDown"'],
            "equal": ["job", "namespace"]} in am["inhibit_rules"]


# --------------------------------------------------------------------------- cAdvisor panels (item 4)


def _all_exprs(build: Path, dashboard: str) -> str:
    files = list(build.glob(f"files/**/{dashboard}"))
    assert files
    return " ".join(q for f in files for q in dashboard_queries(json.loads(f.read_text())))


def test_cadvisor_panels_only_in_operator_mode(builds):
    standalone, operator = _all_exprs(builds["custom"], "edge.json"), _all_exprs(builds["custom-operator"], "edge.json")
    for metric in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes"):
        assert metric not in standalone  # no kubelet/cAdvisor job in the standalone Prometheus
        assert metric in operator  # kube-prometheus-stack scrapes cAdvisor
    jobs = [j["job_name"] for j in _prom_config(builds["custom"])["scrape_configs"]]
    assert not [j for j in jobs if "cadvisor" in j or "kubelet" in j]
    assert not _kind(builds["custom"], "ClusterRole")


# --------------------------------------------------------------------------- Alertmanager routes (item 5)


_ROUTED = {
    "receivers": [
        {"name": "oncall", "type": "slack", "secretName": "oncall-slack", "secretKey": "webhook", "slackChannel": "#oncall"},
        {"name": "team-hook", "type": "webhook", "secretName": "team-hook"},
    ],
    "routes": [
        {"matchers": ['severity="critical"', 'source=~"llm-.*"'], "receiver": "oncall", "continue": True, "repeatInterval": "30m"},
        {"matchers": ['alertname="GpuTemperatureHigh"'], "receiver": "team-hook", "groupBy": ["Hostname"]},
    ],
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"routes": [{"matchers": ['severity="critical"'], "receiver": "pager"}]}, r"routes\[0\].receiver 'pager' is not a receiver; allowed: default, null"),
        ({"routes": [{"matchers": ["severity=critical"], "receiver": "default"}]}, r"routes.0.matchers.0\n  Value error, must be an Alertmanager matcher"),
        ({"routes": [{"matchers": [], "receiver": "default"}]}, "matchers must name at least one matcher"),
        ({"routes": [{"matchers": ['a="b"'], "receiver": "default", "repeatInterval": "hourly"}]}, "repeatInterval\n  Value error, must be a non-zero duration"),
        ({"receivers": [{"name": "default", "type": "webhook", "secretName": "s"}]}, "receiver name 'default' is reserved"),
        ({"receivers": [{"name": "Ops", "type": "webhook", "secretName": "s"}]}, r"receivers.0.name\n  Value error, must be a DNS-1123 label"),
        ({"receivers": [{"name": "a", "type": "webhook", "secretName": "s", "slackChannel": "#x"}]}, "slackChannel '#x' is set but receiver 'a' has type 'webhook'"),
        ({"receivers": [{"name": "a", "type": "webhook", "secretName": "s"}] * 2}, r"receiver names \['a'\] are used more than once"),
        ({"receivers": [{"name": "a", "type": "email", "secretName": "s"}]}, "'webhook' or 'slack'"),
    ],
)
def test_route_rules(data, message):
    with pytest.raises(ValidationError, match=message):
        AlertmanagerArgs.model_validate(data)


def test_routes_are_standalone_only():
    with pytest.raises(ValidationError, match="alertmanager.routes/receivers configure the standalone Alertmanager; mode is operator"):
        MonitoringStackArgs.model_validate({"mode": "operator", "alertmanager": _ROUTED})


def test_routes_and_receivers_render(tmp_path):
    build = build_custom(tmp_path, mode="standalone", args={"alertmanager": _ROUTED})
    am = yaml.safe_load((build / "files/monitoring-alertmanager/alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in am["receivers"]}
    assert list(receivers) == ["default", "null", "oncall", "team-hook"]
    assert receivers["default"]["webhook_configs"][0]["url_file"] == "/etc/alertmanager/secrets/url"
    assert receivers["oncall"]["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/receivers/oncall/webhook"
    assert receivers["oncall"]["slack_configs"][0]["channel"] == "#oncall"
    assert receivers["team-hook"]["webhook_configs"] == [{"url_file": "/etc/alertmanager/receivers/team-hook/url", "send_resolved": True}]
    routes = am["route"]["routes"]
    assert routes[0] == {"matchers": ['severity="critical"', 'source=~"llm-.*"'], "receiver": "oncall", "repeat_interval": "30m", "continue": True}
    assert routes[1] == {"matchers": ['alertname="GpuTemperatureHigh"'], "receiver": "team-hook", "group_by": ["Hostname"]}
    assert [r["receiver"] for r in routes[2:]] == ["default", "null"]  # built-ins after the user's
    # structure: every route names a defined receiver; every URL is a file, never inline
    assert am["route"]["receiver"] in receivers and all(r["receiver"] in receivers for r in routes)
    text = json.dumps(am)
    assert '"url":' not in text and '"api_url":' not in text and "hooks.example.com" not in text
    # the user's Secrets are mounted read-only, only the URL key, and not created by the stack
    pod = _pods(build)["monitoring-alertmanager"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["receiver-oncall"]["secret"] == {"secretName": "oncall-slack", "defaultMode": 0o440, "items": [{"key": "webhook", "path": "webhook"}]}
    assert vols["receiver-team-hook"]["secret"]["items"] == [{"key": "url", "path": "url"}]
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["receiver-oncall"] == {"name": "receiver-oncall", "mountPath": "/etc/alertmanager/receivers/oncall", "readOnly": True}
    assert not [s for s in _kind(build, "Secret") if s["metadata"]["name"] in ("oncall-slack", "team-hook")]
    assert validate_manifests(build / "manifests") == []
    # ... declared as user-created on the pod, so the gate's reference check accepts them (and nothing else)
    dep = next(d for d in _kind(build, "Deployment") if d["metadata"]["name"] == "monitoring-alertmanager")
    assert dep["spec"]["template"]["metadata"]["annotations"]["slm-deploy.io/external-secrets"] == "oncall-slack,team-hook"
    from slm_deploy.gate.apply_validity import check_kubernetes

    objects = [(p.name, yaml.safe_load(p.read_text())) for p in sorted((build / "manifests").glob("*.yaml"))]
    assert [(r.check_id, r.resource, r.problems) for r in check_kubernetes(objects) if r.problems] == []


def test_staging_alertmanager_config_structure(builds):
    am = yaml.safe_load((builds["staging"] / "files/monitoring-alertmanager/alertmanager.yml").read_text())
    names = [r["name"] for r in am["receivers"]]
    assert len(names) == len(set(names)) and am["route"]["receiver"] in names
    assert all(r["receiver"] in names for r in am["route"]["routes"])
    assert set(am["route"]) == {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "routes"}
    for rule in am["inhibit_rules"]:
        assert set(rule) == {"source_matchers", "target_matchers", "equal"}


# --------------------------------------------------------------------------- peers (item 6)


def test_prober_and_scraper_peers():
    standalone = MonitoringStackArgs(mode="standalone")
    assert standalone.prober_peers("monitoring", "ns") == [({"app.kubernetes.io/name": "blackbox-exporter", "app.kubernetes.io/instance": "monitoring"}, None)]
    assert standalone.scraper_peers("monitoring", "ns") == [({"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "monitoring"}, None)]
    own = MonitoringStackArgs.model_validate({"mode": "operator", "operator": {"prometheusNamespace": "mon"}})
    assert own.prober_peers("monitoring", "ns") == standalone.prober_peers("monitoring", "ns")
    assert own.scraper_peers("monitoring", "ns") == [({"app.kubernetes.io/name": "prometheus"}, {"kubernetes.io/metadata.name": "mon"})]
    cluster = MonitoringStackArgs.model_validate({"mode": "operator", "operator": {"prometheusNamespace": "mon", "blackboxExporterAddress": "bb.mon.svc:9115"}})
    assert cluster.prober_peers("monitoring", "ns") == [({"app.kubernetes.io/name": "prometheus-blackbox-exporter"}, {"kubernetes.io/metadata.name": "mon"})]
    custom = MonitoringStackArgs.model_validate({"mode": "operator", "operator": {"blackboxExporterAddress": "bb:9115", "blackboxExporterPodLabels": {"app": "bb"}}})
    assert custom.prober_peers("monitoring", "ns") == [({"app": "bb"}, {"kubernetes.io/metadata.name": "monitoring"})]
    with pytest.raises(ValidationError, match="blackboxExporterPodLabels must name at least one label"):
        OperatorArgs.model_validate({"blackboxExporterPodLabels": {}})


def test_peers_match_the_deployed_pods(builds):
    """The labels prober_peers/scraper_peers return select the pods the stack really deploys."""
    deployments = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in _kind(builds["custom"], "Deployment")}
    args = MonitoringStackArgs(mode="standalone")
    [(prober, _)] = args.prober_peers("monitoring", NS)
    [(scraper, _)] = args.scraper_peers("monitoring", NS)
    assert prober.items() <= deployments["monitoring-blackbox-exporter"].items()
    assert scraper.items() <= deployments["monitoring-prometheus"].items()
    assert not prober.items() <= deployments["monitoring-prometheus"].items()
    op = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in _kind(builds["custom-operator"], "Deployment")}
    [(prober, ns)] = MonitoringStackArgs(mode="operator").prober_peers("monitoring", NS)
    assert ns is None and prober.items() <= op["monitoring-blackbox-exporter"].items()


def test_gpu_alert_thresholds_render_exactly():
    """A GPU threshold reads back as the number configured (``%g`` alone would round 0.1234567)."""
    from components.monitoring.cluster import dcgm_contribution
    from components.observability import AlertThresholds

    contribution = dcgm_contribution(job="dcgm", namespace="gpu-operator", pod_selector={"app": "dcgm"}, port_name="metrics")
    rules = {r.name: r.expr for r in contribution.alert_rules(AlertThresholds(gpu_memory_usage=0.1234567, gpu_temperature_celsius=83.5))}
    assert rules["GpuMemoryNearFull"].endswith("> 0.1234567")
    assert rules["GpuTemperatureHigh"].endswith("> 83.5")
