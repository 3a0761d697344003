"""Exposure and isolation (issue #10, section 6) fail the gate itself, not only component tests: each test
takes a gated reference build, adds or edits what an attacker with a stack file or a second program would
render, and runs the real gate on it."""

from __future__ import annotations

import yaml

from gate_helpers import copy_build
from slm_deploy.gate import run_gate


def _manifest(build, name: str) -> dict:
    return yaml.safe_load((build / "manifests" / name).read_text())


def _write(build, name: str, obj: dict) -> None:
    (build / "manifests" / name).write_text(yaml.safe_dump(obj, sort_keys=True))


def _failed(build, stack: str) -> list[tuple[str, str]]:
    return sorted((f.check_id, f.resource) for f in run_gate(build, stack, use_cache=False).failed)


def test_open_ingress_to_the_web_ui_fails_the_gate(built, tmp_path):
    """cpu's Open WebUI admits nobody; a second policy admitting every namespace on 8080 opens it."""
    build = copy_build(built("cpu").out_dir, tmp_path / "cpu")
    policy = _manifest(build, "slm-cpu.networkpolicy.ollama-webui.yaml")
    policy["metadata"]["name"] = "ollama-webui-open"
    policy["spec"] = {"podSelector": policy["spec"]["podSelector"], "policyTypes": ["Ingress"],
                      "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080, "protocol": "TCP"}]}]}
    _write(build, "slm-cpu.networkpolicy.ollama-webui-open.yaml", policy)
    assert _failed(build, "cpu") == [("CKV_SLM_034", "Deployment.slm-cpu.ollama-webui")]


def test_ingress_rule_without_from_on_ollama_fails_the_gate(built, tmp_path):
    build = copy_build(built("cpu").out_dir, tmp_path / "cpu")
    policy = _manifest(build, "slm-cpu.networkpolicy.ollama.yaml")
    policy["spec"]["ingress"].append({"ports": [{"port": "http", "protocol": "TCP"}]})
    _write(build, "slm-cpu.networkpolicy.ollama.yaml", policy)
    assert _failed(build, "cpu") == [("CKV_SLM_034", "Deployment.slm-cpu.ollama")]


def test_open_webui_publishing_its_own_port_fails_the_gate(built, tmp_path):
    """Issue #10: on Docker the web UI published its own port. Its proxy publishes now; putting the port back fails."""
    build = copy_build(built("dev").out_dir, tmp_path / "dev")
    compose = yaml.safe_load((build / "compose.yaml").read_text())
    assert "ports" not in compose["services"]["ollama-webui"]
    compose["services"]["ollama-webui"]["ports"] = [{"host_ip": "127.0.0.1", "published": "3001", "target": 8080,
                                                     "protocol": "tcp"}]
    (build / "compose.yaml").write_text(yaml.safe_dump(compose, sort_keys=True))
    assert _failed(build, "dev") == [("CKV_SLM_036", "service.ollama-webui")]


def test_egress_to_every_address_fails_the_gate(built, tmp_path):
    """Prometheus needs the API server only; 443/6443 to 0.0.0.0/0 (what it had before) also reaches every pod,
    private endpoint and the metadata service."""
    build = copy_build(built("staging").out_dir, tmp_path / "staging")
    name = "slm-staging.networkpolicy.monitoring-prometheus.yaml"
    policy = _manifest(build, name)
    policy["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                     "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]})
    _write(build, name, policy)
    assert _failed(build, "staging") == [("CKV_SLM_035", "NetworkPolicy.slm-staging.monitoring-prometheus")]
