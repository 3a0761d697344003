"""Issue #10, item 6 on Kubernetes: ``authProxy`` is built, not ignored; only named pods reach Ollama and the UI.

Before: ``ollama.authProxy: true`` on ``target: kubernetes`` was accepted and ignored (Ollama stayed
unauthenticated, ``clients`` reached its own port), and Open WebUI's NetworkPolicy admitted any source on 8080.
"""

from __future__ import annotations

import pytest
import yaml

from slm_deploy.pipeline import build_stack
from stacks.loader import load_stack, project_root

CLIENT = {"app.kubernetes.io/name": "rag-api"}
INGRESS = {"podLabels": {"app.kubernetes.io/name": "ingress-nginx"}, "namespaceLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}


def _objects(out_dir):
    return {(o["kind"], o["metadata"]["name"]): o for o in
            (yaml.safe_load(p.read_text()) for p in (out_dir / "manifests").glob("*.yaml"))}


def _peers(rule):
    return [p["podSelector"]["matchLabels"] for p in rule.get("from", [])]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """The cpu stack with authProxy on and the web UI opened to an ingress controller, rendered and gated."""
    scratch = tmp_path_factory.mktemp("proj")
    (scratch / "stacks").mkdir()
    (scratch / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())
    data = yaml.safe_load((project_root() / "stacks" / "Pulumi.cpu.yaml").read_text())
    ollama = data["config"]["slm-deploy:ollama"]
    ollama.update({"authProxy": True, "clients": [CLIENT]})
    ollama.setdefault("webui", {})["clients"] = [INGRESS]
    (scratch / "stacks" / "Pulumi.cpu-proxied.yaml").write_text(yaml.safe_dump(data))
    return build_stack(load_stack("cpu-proxied", scratch), tmp_path_factory.mktemp("out") / "cpu-proxied")


def test_auth_proxy_is_built_on_kubernetes(proxied):
    assert proxied.gate.ok, [f"{f.check_id} {f.resource} {f.message}" for f in proxied.gate.failed]
    objs = _objects(proxied.out_dir)
    pod = objs[("Deployment", "ollama")]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["ollama", "auth-proxy"]
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in objs[("Service", "ollama")]["spec"]["ports"]}
    assert service_ports == {"http": (11434, "http"), "http-auth": (8080, "http-auth")}
    assert objs[("Secret", "ollama-auth-proxy-keys")]["stringData"] == {"keys.map": "[secret]"}
    conf = objs[("ConfigMap", "ollama-auth-proxy")]["data"]["nginx.conf"]
    assert "127.0.0.1:11434" in conf and "/etc/auth-proxy/keys.map" in conf


def test_clients_reach_ollama_only_through_the_proxy(proxied):
    policy = _objects(proxied.out_dir)[("NetworkPolicy", "ollama")]
    by_port = {}
    for rule in policy["spec"]["ingress"]:
        for port in rule["ports"]:
            by_port.setdefault(port["port"], []).extend(_peers(rule))
    assert CLIENT in by_port["http-auth"]
    assert CLIENT not in by_port["http"], "a client reaches Ollama's own port, skipping the proxy"
    names = {p.get("app.kubernetes.io/name") for p in by_port["http"]}
    assert names == {"open-webui"}  # the stack's own UI (cpu has no monitoring; models come from the fill Job's own server)
    # the smoke Job is a client: through the proxy, like the others (docs/lifecycle.md)
    assert "ollama-smoke" in {p.get("app.kubernetes.io/name") for p in by_port["http-auth"]}
    assert set(by_port) == {"http", "http-auth"}


def test_webui_admits_only_the_named_ingress(proxied, synthesized):
    policy = _objects(proxied.out_dir)[("NetworkPolicy", "ollama-webui")]
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": INGRESS["podLabels"]},
                             "namespaceSelector": {"matchLabels": INGRESS["namespaceLabels"]}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    # Secure default (the cpu reference stack names no ingress): nothing in the cluster reaches the UI.
    (default,) = [r.inputs for r in synthesized("cpu").resources
                  if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and r.inputs["metadata"]["name"] == "ollama-webui"]
    assert default["spec"]["policyTypes"] == ["Ingress", "Egress"] and default["spec"].get("ingress", []) == []
