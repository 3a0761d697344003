"""MonitoringStack: Args rules, composition from contributions, security fields, dashboards, operator objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from components.monitoring.dashboards import dashboard_queries
from components.monitoring.metrics import VLLM_DEPRECATED, known_series, metric_names_in
from components.monitoring_stack import (
    AlertmanagerArgs,
    DcgmExporterArgs,
    MonitoringStack,
    MonitoringStackArgs,
    OperatorArgs,
    PrometheusArgs,
)
from components.probe_monitoring import probe_contribution
from components.vllm_monitoring import VLLM_ALERTS, vllm_contribution
from slm_deploy.config import load_stack
from slm_deploy.errors import ConfigError
from slm_deploy.gate.schema_validation import validate_manifests
from tests_monitoring_helpers import NS, build_custom, build_reference, custom_contributions

from tests.conftest import write_stack


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("monstack")
    return {
        "staging": build_reference("staging", root / "staging"),
        "prod": build_reference("prod", root / "prod"),
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
        (PrometheusArgs, {"retentionTime": "two weeks"}, "'two weeks' is not a Prometheus duration"),
        (PrometheusArgs, {"retentionSize": "8Gi"}, "'8Gi' is not a Prometheus size"),
        (PrometheusArgs, {"storageSize": "10 GB"}, "'10 GB' is not a storage quantity"),
        (PrometheusArgs, {"retentionSize": "20GB", "storageSize": "10Gi"}, "retentionSize 20GB must be smaller than storageSize 10Gi"),
        (AlertmanagerArgs, {"repeatInterval": "often"}, "'often' is not a Prometheus duration"),
        (AlertmanagerArgs, {"receiverPorts": [0]}, r"receiverPorts \[0\] must be a non-empty list of TCP ports"),
        (AlertmanagerArgs, {"slackChannel": "#ops"}, "slackChannel '#ops' is set but receiver is 'webhook'"),
        (DcgmExporterArgs, {"podSelector": {}}, "podSelector must name at least one label"),
        (OperatorArgs, {"blackboxExporterAddress": "http://bb:9115"}, "must be host:port"),
        (MonitoringStackArgs, {"mode": "standalone", "scrapeInterval": "30"}, "'30' is not a Prometheus duration"),
        (MonitoringStackArgs, {"mode": "standalone", "thresholds": {"queueFor": "soon"}}, "queueFor = 'soon' is not a non-zero Prometheus duration"),
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
    assert monitors == {"phi4-mini", "qwen3-8b", "dcgm-exporter"}
    [rule] = _kind(builds["prod"], "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert {g["name"] for g in rule["spec"]["groups"]} == {"slm-phi4-mini", "slm-qwen3-8b", "slm-gpu", "slm-pods"}
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
    files = sorted((builds[build] / "files/monitoring/dashboards").glob("*.json"))
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
    dash = json.loads((builds["staging"] / "files/monitoring/dashboards/vllm.json").read_text())
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
    assert {m["metadata"]["name"] for m in maps} == {"monitoring-dashboard-vllm", "monitoring-dashboard-gpu", "monitoring-dashboard-pods"}
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)
    probes = _kind(builds["custom-operator"], "Probe")
    assert {p["spec"]["jobName"] for p in probes} == {"ollama-probe", "edge-1-probe"}
    assert all(p["spec"]["prober"]["url"] == f"monitoring-blackbox-exporter.{NS}.svc:9115" for p in probes)
    assert not [d for d in _kind(builds["prod"], "Deployment") if d["metadata"]["name"] == "monitoring-prometheus"]


@pytest.mark.parametrize("build", ["staging", "prod", "custom", "custom-operator"])
def test_manifests_pass_strict_schema_validation(builds, build):
    assert validate_manifests(builds[build] / "manifests") == []
