"""ModelGateway as the program renders it: bad input, the default rule, the prod objects, and the generated
router command line and nginx.conf run by the real binaries."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.gateway.proxy import GATEWAY_JS, NJS_MODULE
from stacks.loader import load_stack
from tests.conftest import stack_problems, write_stack

from .harness import Process, free_port, request, require_tools, wait_http

VLLM = """  slm-deploy:vllm:
    - name: phi4-mini
      model: phi-4-mini-instruct
      gpu: l4
    - name: qwen3-8b
      model: qwen3-8b
      gpu: l40s
"""


@pytest.mark.parametrize("body,expected", [
    (VLLM + "  slm-deploy:gateway:\n    clients:\n      - {name: app, models: [gpt-9], rpm: 10, concurrency: 1}\n",
     "slm-deploy:gateway"),
    (VLLM + "  slm-deploy:gateway:\n    clients:\n      - {name: app, models: [qwen3-8b], rpm: 10, concurrency: 1}\n"
            "      - {name: app, models: [qwen3-8b], rpm: 5, concurrency: 1}\n", "slm-deploy:gateway"),
    (VLLM + "  slm-deploy:gateway:\n    clients:\n      - {name: app, models: [qwen3-8b], rpm: 0, concurrency: 1}\n",
     "slm-deploy:gateway.clients[0].rpm = 0"),
    (VLLM + "  slm-deploy:gateway:\n    clients:\n      - {name: app, models: [qwen3-8b], rpm: 5, concurrency: -2}\n",
     "slm-deploy:gateway.clients[0].concurrency = -2"),
    ("  slm-deploy:gateway:\n    clients:\n      - {name: app, models: [qwen3-8b], rpm: 5, concurrency: 1}\n",
     "slm-deploy:gateway"),
    ("  slm-deploy:target: docker\n  slm-deploy:gateway:\n    enabled: true\n", "slm-deploy:gateway"),
    (VLLM + "  slm-deploy:gateway:\n    clients:\n      - {name: app, models: [qwen3-8b], rpm: 5, concurrency: 1, tpm: 1000}\n",
     "slm-deploy:gateway.clients[0].tpm = 1000"),
])
def test_bad_gateway_input_is_one_located_line(scratch_project, body, expected):
    [line] = stack_problems(scratch_project, "config:\n" + body)
    assert line.startswith("stacks/Pulumi.t.yaml:") and expected in line, line


def test_messages_name_what_is_allowed(scratch_project):
    [unknown] = stack_problems(scratch_project, "config:\n" + VLLM + "  slm-deploy:gateway:\n    clients:\n"
                          "      - {name: app, models: [qwen3-8b, gpt-9], rpm: 10, concurrency: 1}\n")
    assert "clients[0].models[1] = gpt-9: not a model of this stack; served models: phi-4-mini-instruct, qwen3-8b" in unknown
    [dupe] = stack_problems(scratch_project, "config:\n" + VLLM + "  slm-deploy:gateway:\n    clients:\n"
                       "      - {name: app, models: [qwen3-8b], rpm: 1, concurrency: 1}\n"
                       "      - {name: app, models: [qwen3-8b], rpm: 1, concurrency: 1}\n")
    assert "client names must be unique; app appears more than once" in dupe
    [docker] = stack_problems(scratch_project, "config:\n  slm-deploy:target: docker\n  slm-deploy:gateway:\n    enabled: true\n")
    assert "a gateway needs target kubernetes; target is docker" in docker
    [empty] = stack_problems(scratch_project, "config:\n  slm-deploy:gateway:\n    clients:\n"
                        "      - {name: app, models: [x], rpm: 1, concurrency: 1}\n")
    assert "needs models to route to; this stack has no vllm services" in empty


def test_on_by_default_from_two_models_or_three_replicas(scratch_project):
    write_stack(scratch_project, "two", "config:\n" + VLLM)
    assert load_stack("two", scratch_project).config.gateway_enabled
    write_stack(scratch_project, "off", "config:\n" + VLLM + "  slm-deploy:gateway:\n    enabled: false\n")
    assert not load_stack("off", scratch_project).config.gateway_enabled
    # more than one replica needs a ReadWriteMany model cache (docs/lifecycle.md)
    one = ("config:\n  slm-deploy:cluster:\n    rwxStorageClass: nfs\n"
           "  slm-deploy:vllm:\n    - {name: phi4-mini, model: phi-4-mini-instruct, gpu: l4, replicas: 1, maxReplicas: %d}\n")
    write_stack(scratch_project, "one", one % 2)
    assert not load_stack("one", scratch_project).config.gateway_enabled
    write_stack(scratch_project, "three", one % 3)
    assert load_stack("three", scratch_project).config.gateway_enabled
    assert not load_stack("staging").config.gateway_enabled
    assert load_stack("prod").config.gateway_enabled


@pytest.fixture(scope="module")
def prod(built) -> Path:
    build = built("prod")  # the session's build of the reference stack (tests only read it)
    assert build.gate.ok, build.gate.failed
    return build.out_dir


def _obj(root: Path, kind: str, name: str) -> dict:
    return yaml.safe_load((root / "manifests" / f"slm-prod.{kind}.{name}.yaml").read_text())


def test_prod_gateway_objects(prod):
    dep = _obj(prod, "deployment", "gateway")
    pod = dep["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["proxy", "router", "exporter"]
    assert "initContainers" not in pod, "the router is installed by its own Job (test_router_install.py)"
    assert pod["automountServiceAccountToken"] is False
    token = [v for v in pod["volumes"] if v["name"] == "router-token"]
    assert token and token[0]["projected"]["sources"][0]["serviceAccountToken"]["path"] == "token"
    mounts = {c["name"]: [m["name"] for m in c["volumeMounts"]] for c in pod["containers"]}
    assert "router-token" in mounts["router"] and "router-token" not in mounts["proxy"] + mounts["exporter"]
    keys_mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "keys"][0]
    assert "subPath" not in keys_mount, "a subPath mount would never see a rotated Secret"
    role = _obj(prod, "role", "gateway-discovery")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    for client in ("chat-app", "batch-jobs"):
        assert _obj(prod, "secret", f"gateway-client-{client}")["stringData"] == {"api-key": "[secret]"}
    assert _obj(prod, "secret", "gateway-keys")["stringData"] == {"clients.keys": "[secret]"}
    conf = _obj(prod, "configmap", "gateway-files")["data"]["nginx.conf"]
    # 2 replicas: each holds half of every client's budget.
    assert "rate=300r/m" in conf and "rate=60r/m" in conf and "limit_conn gw_conn_1 4;" in conf
    assert '"chat-app" "phi-4-mini-instruct qwen3-8b";' in conf and '"batch-jobs" "qwen3-8b";' in conf
    svc = _obj(prod, "service", "gateway")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0]["port"] == 8080


def test_generated_router_command_runs_on_the_pinned_router(prod, tmp_path):
    """The exact flags the pod runs, on the real vllm-router: only ports are moved (and no cluster: discovery
    discovery runs in the background and the router serves regardless, src/server.rs:1160-1180)."""
    require_tools()
    router = [c for c in _obj(prod, "deployment", "gateway")["spec"]["template"]["spec"]["containers"] if c["name"] == "router"][0]
    args = list(router["args"])
    port, metrics = free_port(), free_port()
    args[args.index("--port") + 1] = str(port)
    args[args.index("--prometheus-port") + 1] = str(metrics)
    args[args.index("--prometheus-host") + 1] = "127.0.0.1"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    proc = Process([sys.executable, *args], tmp_path / "router.log", env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/liveness", timeout=60)
        assert request(f"http://127.0.0.1:{port}/liveness")[0] == 200
    finally:
        proc.stop()
    assert "Multi-router mode enabled (enable_igw=true)" in (tmp_path / "router.log").read_text()


def test_generated_nginx_conf_passes_nginx_t(prod, tmp_path):
    """nginx -t on the pod's nginx.conf with the njs module and gateway.js; paths moved under tmp_path."""
    require_tools()
    conf = _obj(prod, "configmap", "gateway-files")["data"]["nginx.conf"]
    (tmp_path / "js").mkdir()
    shutil.copy(GATEWAY_JS, tmp_path / "js" / "gateway.js")
    (tmp_path / "tmp").mkdir()
    conf = (conf.replace(" /tmp/", f" {tmp_path}/tmp/").replace("/etc/gateway/js", str(tmp_path / "js"))
            .replace("listen 8080;", f"listen 127.0.0.1:{free_port()};"))
    assert f"load_module {NJS_MODULE};" in conf
    (tmp_path / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
