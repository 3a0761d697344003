"""Per-client metrics of the single named-client proxies (Ollama's auth proxy and the ONNX edge proxy on
Kubernetes): the gateway's exporter beside nginx, its scrape job, panels and the two client alerts in the
MonitoringStack. The rendered proxy files run in real nginx + njs with the rendered exporter on 127.0.0.1; the
rendered alert rules pass promtool's check and its firing/quiet unit tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from components.auth_proxy import NAMED_CONF_DIR, NAMED_KEYS_DIR
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render
from stacks.loader import load_stack, project_root
from stacks.schema import PROJECT
from tests.gateway.harness import StandIn, request, require_tools
from tests.gateway.named_proxy import NamedProxy

sys.path.insert(0, str(Path(__file__).parent / "promtool"))
from promtool_cases import build_tests  # noqa: E402

from components.observability import AlertThresholds  # noqa: E402

QWEN = "qwen3:0.6b-q4_K_M"
EDGE_MODEL = "phi-4-mini-instruct"
OLLAMA_CLIENTS = [{"name": "rag-api", "models": [QWEN], "rpm": 2, "concurrency": 4, "burst": 0}]
EDGE_CLIENTS = [{"name": "shop-floor", "models": [EDGE_MODEL], "rpm": 600, "concurrency": 2}]
RAG_KEY = "sk-Rag-AbCdEf0123456789-xyzXYZ-0001"
JOBS = {"ollama-proxy": "Ollama's auth proxy", "onnx-edge-edge-phi4-proxy": "the edge proxy of edge-phi4"}


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    """The cpu stack (Kubernetes) with Ollama's named clients, an edge node with its own, and a standalone
    MonitoringStack."""
    root = tmp_path_factory.mktemp("proxy-metrics")
    (root / "stacks").mkdir()
    (root / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())
    data = yaml.safe_load((project_root() / "stacks" / "Pulumi.cpu.yaml").read_text())
    config = data["config"]
    config[f"{PROJECT}:ollama"].update({"authProxy": True, "apiClients": OLLAMA_CLIENTS})
    config[f"{PROJECT}:onnxEdge"] = [{"name": "edge-phi4", "model": EDGE_MODEL, "maxLength": 1024, "target": "kubernetes",
                                      "image": "ghcr.io/acme/slm-onnx-edge:0.1.0@sha256:" + "a" * 64,
                                      "apiClients": EDGE_CLIENTS}]
    config[f"{PROJECT}:monitoring"] = {"mode": "standalone"}
    (root / "stacks" / "Pulumi.t.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(data)), sort_keys=False))
    render(synth_stack(load_stack("t", root)), root / "build")
    return root / "build"


def _rule_groups(build: Path) -> list[dict]:
    return yaml.safe_load((build / "files" / "monitoring" / "rules" / "slm.rules.yaml").read_text())["groups"]


def test_each_proxy_is_scraped_by_its_own_job_on_the_exporter_port(build):
    prometheus = next((build / "files").glob("monitoring-prometheus*/prometheus.yml")).read_text()
    config = yaml.safe_load(prometheus)
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    for job in JOBS:
        assert job in jobs, sorted(jobs)
        port_rule = {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "client\\-metrics",
                     "action": "keep"}
        assert port_rule in jobs[job]["relabel_configs"]  # the exporter's port, by name
    for name in ("ollama", "edge-phi4"):
        pod = yaml.safe_load((build / "manifests" / f"slm-cpu.deployment.{name}.yaml").read_text())["spec"]["template"]["spec"]
        [exporter] = [c for c in pod["containers"] if c["name"] == "auth-proxy-metrics"]
        assert exporter["ports"] == [{"containerPort": 9145, "name": "client-metrics", "protocol": "TCP"}]
        assert exporter["securityContext"]["readOnlyRootFilesystem"] is True and "env" not in exporter


def test_client_alerts_cover_each_proxy_and_pass_promtool(build, tmp_path):
    """GatewayClientAtLimit and GatewayAuthFailures, per proxy job; promtool checks the file and runs a firing and
    a quiet case for every alert of it (tests/components/monitoring/promtool/promtool_cases.py)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not on PATH: `./dev test` installs it (Debian package prometheus)"
    groups = _rule_groups(build)
    rules = [(r["alert"], r["expr"]) for g in groups for r in g["rules"]]
    for job in JOBS:
        mine = {alert for alert, expr in rules if f'job="{job}"' in expr}
        assert mine == {"GatewayClientAtLimit", "GatewayAuthFailures"}, (job, mine)
    rule_file = tmp_path / "slm.rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": groups}))
    check = subprocess.run([promtool, "check", "rules", rule_file.name], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    doc, ids = build_tests(rule_file.name, groups, AlertThresholds())
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    run = subprocess.run([promtool, "test", "rules", "t.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    proxy_groups = [g["name"] for g in groups if any(f'job="{job}"' in r["expr"] for r in g["rules"] for job in JOBS)]
    assert proxy_groups and all(f"{g}/GatewayAuthFailures/firing" in ids for g in proxy_groups)


def test_gateway_dashboard_has_a_row_of_client_panels_per_proxy(build):
    [dashboard] = [json.loads(p.read_text()) for p in build.glob("files/**/gateway.json")][:1]
    titles = [p["title"] for p in dashboard["panels"]]
    for proxy in JOBS.values():
        label = proxy[0].upper() + proxy[1:]
        assert f"{label}: Requests/s by client" in titles and f"{label}: Latency p95 by client" in titles, titles
    exprs = json.dumps(dashboard)
    assert 'job=\\"ollama-proxy\\"' in exprs and 'job=\\"onnx-edge-edge-phi4-proxy\\"' in exprs


def test_the_rendered_exporter_counts_requests_by_client_never_by_key(build, tmp_path):
    """Ollama's Kubernetes proxy as rendered (nginx.conf with its syslog line, gateway.js, metrics_exporter.py) in
    real nginx + njs, in front of a stand-in: 200, 401, 429 are counted per client name; no key in the metrics."""
    require_tools()
    files_dir = build / "files" / "ollama-auth-proxy"
    files = {f.name: f.read_text() for f in files_dir.iterdir()}
    stand_in = StandIn("ollama")
    proxy = NamedProxy(tmp_path / "nginx", files, conf_dir=NAMED_CONF_DIR, keys_file=f"{NAMED_KEYS_DIR}/clients.keys",
                       upstream_port=stand_in.port, keys={"rag-api": [RAG_KEY], "slm-verify": ["sk-verify-0123456789abcdef"]})
    try:
        body = {"model": QWEN, "messages": [{"role": "user", "content": "hi"}]}
        codes = [request(proxy.url + "/v1/chat/completions", key=RAG_KEY, body=body)[0] for _ in range(2)]
        assert codes == [200, 429], codes  # 2 per minute (one per 30 s), no burst
        assert request(proxy.url + "/v1/chat/completions", key=RAG_KEY.swapcase(), body=body)[0] == 401
        text = ""
        for _ in range(50):  # the access log reaches the exporter over UDP, just after the response
            text = proxy.metrics()
            if 'slm_gateway_limited_total{client="rag-api",limit="rpm"} 1' in text and 'code="401"' in text:
                break
            time.sleep(0.05)
        assert f'slm_gateway_requests_total{{client="rag-api",model="{QWEN}",code="200"}} 1' in text, text
        assert 'slm_gateway_limited_total{client="rag-api",limit="rpm"} 1' in text, text
        assert 'slm_gateway_requests_total{client="unauthenticated",model="",code="401"} 1' in text, text
        assert 'slm_gateway_request_duration_seconds_count{client="rag-api"} 2' in text, text
        assert RAG_KEY not in text and RAG_KEY.swapcase() not in text
    finally:
        proxy.stop()
        stand_in.close()
