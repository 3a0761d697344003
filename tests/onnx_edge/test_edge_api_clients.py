"""The ONNX edge node's named clients (onnxEdge[].apiClients): the model gateway's client shape, keys and nginx
config in front of the edge server, on Docker and Kubernetes, as Ollama's (tests/components/ollama/
test_ollama_api_clients.py). The rendered proxy files run in real nginx + njs on 127.0.0.1 in front of the real
edge server (onnxruntime-genai, a tiny model) and of a stand-in that records what reaches it; bad input is one
located line, exit 2, nothing written."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from components.auth_proxy import NAMED_CONF_DIR, NAMED_KEYS_DIR, NAMED_UPSTREAM_DIR
from components.gateway.constants import VERIFY_CLIENT
from components.onnx_edge.proxy import PROXY_FILES_DIR, UPSTREAM_KEY_FILE
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render
from stacks.loader import load_stack, project_root
from stacks.schema import PROJECT
from tests.gateway.client_config import keys_reach_only_the_keys_file, refused_as_one_located_line
from tests.gateway.harness import StandIn, openai_error, request, require_tools
from tests.gateway.named_proxy import NamedProxy

MODEL = "phi-4-mini-instruct"
NODE = "edge-phi4"
DIGEST_IMAGE = "ghcr.io/acme/slm-onnx-edge:0.1.0@sha256:" + "a" * 64
CLIENTS = [
    {"name": "chat-app", "models": [MODEL], "rpm": 6000, "concurrency": 1},
    {"name": "batch-jobs", "models": [MODEL], "rpm": 2, "concurrency": 4, "burst": 0},
]
CHAT_KEY, CHAT_NEXT, BATCH_KEY = "sk-Chat-AbCdEf0123456789-xyzXYZ-0001", "sk-Chat-Next-9876543210-abcABC-0002", "sk-Batch-ZyXw9876543210-qQrRsS-0003"
SERVER_KEY = "edge-server-key-0123456789abcdef"
KEYS = {"chat-app": [CHAT_KEY, CHAT_NEXT], "batch-jobs": [BATCH_KEY]}
SERVER = Path(__file__).resolve().parents[2] / "components" / "onnx_edge" / "server" / "server.py"


def _node(target: str, clients: list[dict]) -> dict:
    node = {"name": NODE, "model": MODEL, "maxLength": 1024, "apiClients": copy.deepcopy(clients)}
    return {**node, "target": "kubernetes", "image": DIGEST_IMAGE} if target == "kubernetes" else node


def _project(root: Path, target: str, clients: list[dict]) -> Path:
    """The edge stack (Docker) or the cpu stack (Kubernetes) with one edge node whose apiClients are ``clients``."""
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())
    base = "edge" if target == "docker" else "cpu"
    data = yaml.safe_load((project_root() / "stacks" / f"Pulumi.{base}.yaml").read_text())
    nodes = data["config"].get(f"{PROJECT}:onnxEdge") or [{}]
    data["config"][f"{PROJECT}:onnxEdge"] = [{**(nodes[0] if target == "docker" else {}), **_node(target, clients)}]
    data = json.loads(json.dumps(data, default=str))  # no shared objects: stack files refuse YAML anchors
    (root / "stacks" / "Pulumi.t.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("edge-clients")
    out = {}
    for target in ("docker", "kubernetes"):
        project = _project(root / target, target, CLIENTS)
        out[target] = root / target / "build"
        render(synth_stack(load_stack("t", project)), out[target])
    return out


def _proxy_files(builds: dict[str, Path], target: str) -> dict[str, str]:
    files_dir = (builds[target] / "files" / NODE / PROXY_FILES_DIR if target == "docker"
                 else builds[target] / "files" / f"{NODE}-auth-proxy")
    return {f.name: f.read_text() for f in files_dir.iterdir()}  # Kubernetes: with the metrics exporter


# --------------------------------------------------------------------------- what is generated
def test_docker_server_is_internal_and_the_proxy_publishes_the_port(builds):
    compose = yaml.safe_load((builds["docker"] / "compose.yaml").read_text())
    server, proxy = compose["services"][NODE], compose["services"][f"{NODE}-auth-proxy"]
    assert "ports" not in server and list(server["networks"]) == [f"{NODE}-internal"]
    assert server["networks"][f"{NODE}-internal"]["aliases"] == ["model-server"]
    assert compose["networks"][f"{NODE}-internal"]["internal"] is True
    assert [p["published"] for p in proxy["ports"]] == ["8000"] and proxy["ports"][0]["host_ip"] == "127.0.0.1"
    assert {c["target"] for c in proxy["configs"]} == {f"{NAMED_CONF_DIR}/nginx.conf", f"{NAMED_CONF_DIR}/gateway.js"}
    assert {s["target"]: s["source"] for s in proxy["secrets"]} == {
        f"{NAMED_CONF_DIR}/clients.keys": f"{NODE}-auth-proxy-clients-keys",
        UPSTREAM_KEY_FILE: f"{NODE}-auth-proxy-upstream-key"}
    assert proxy["labels"]["slm-deploy.io/api-clients"] == "chat-app,batch-jobs"  # names, never keys
    assert "environment" not in proxy
    conf = _proxy_files(builds, "docker")["nginx.conf"]
    assert "server model-server:8000;" in conf and "rate=6000r/m" in conf and "rate=2r/m" in conf
    assert f"js_var $gw_upstream_key_file {UPSTREAM_KEY_FILE};" in conf
    # The image's build context stays the server's: the proxy's files are beside it, not in the image's digest.
    assert {p.name for p in (builds["docker"] / "files" / NODE).iterdir()} == {"Dockerfile", "requirements.txt",
                                                                               "server.py", PROXY_FILES_DIR}


def test_docker_secrets_readme_copies_the_server_key_for_the_proxy(builds, tmp_path):
    """The recipe, followed literally: the proxy's upstream key file holds the server's key."""
    readme = (builds["docker"] / "secrets" / "README.md").read_text()
    (tmp_path / "secrets").mkdir()
    for name in (f"{NODE}-api-key", f"{NODE}-auth-proxy-upstream-key"):
        recipe = re.search(rf"^## `secrets/{name}`\n.*?```sh\n(.*?)```", readme, re.M | re.S)[1]
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe], cwd=tmp_path, capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 0, run.stderr
    server_key = (tmp_path / "secrets" / f"{NODE}-api-key").read_text()
    assert server_key.strip() and (tmp_path / "secrets" / f"{NODE}-auth-proxy-upstream-key").read_text() == server_key


def test_kubernetes_sidecar_presents_the_server_key_and_namespace_pods_use_the_proxy(builds):
    manifests = builds["kubernetes"] / "manifests"
    pod = yaml.safe_load((manifests / f"slm-cpu.deployment.{NODE}.yaml").read_text())["spec"]["template"]["spec"]
    [proxy] = [c for c in pod["containers"] if c["name"] == "auth-proxy"]
    mounts = {m["name"]: m for m in proxy["volumeMounts"]}
    assert mounts["auth-proxy-keys"]["mountPath"] == NAMED_KEYS_DIR and "subPath" not in mounts["auth-proxy-keys"]
    assert mounts["auth-proxy-upstream-key"]["mountPath"] == NAMED_UPSTREAM_DIR
    [upstream] = [v for v in pod["volumes"] if v["name"] == "auth-proxy-upstream-key"]
    assert upstream["secret"]["secretName"] == f"{NODE}-secrets"
    assert upstream["secret"]["items"] == [{"key": "api-key", "path": "api-key"}]  # never the HF token
    assert "env" not in proxy and not any("sk-" in a for a in proxy["args"])
    [server] = [c for c in pod["containers"] if c["name"] == "server"]
    mib = lambda q: int(q[:-2]) * (1024 if q.endswith("Gi") else 1)  # noqa: E731
    assert mib(server["resources"]["requests"]["memory"]) <= mib(server["resources"]["limits"]["memory"]), server["resources"]
    config_map = yaml.safe_load((manifests / f"slm-cpu.configmap.{NODE}-auth-proxy.yaml").read_text())
    assert f'"{VERIFY_CLIENT}" $gw_client;' in config_map["data"]["nginx.conf"]  # the smoke Job's own client
    service = yaml.safe_load((manifests / f"slm-cpu.service.{NODE}.yaml").read_text())
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 8000, "http-auth": 8080}
    policy = yaml.safe_load((manifests / f"slm-cpu.networkpolicy.{NODE}.yaml").read_text())
    namespace_rules = [r for r in policy["spec"]["ingress"] if r["from"] == [{"podSelector": {"matchLabels": {}}}]]
    assert [p["port"] for r in namespace_rules for p in r["ports"]] == ["http-auth"]
    smoke = next(manifests.glob(f"slm-cpu.job.{NODE}-smoke-*.yaml")).read_text()
    assert f"{NODE}-verify-key" in smoke and f"http://{NODE}.slm-cpu.svc:8080/v1" in smoke


def test_gate_judges_the_edge_proxy_config_it_mounts(builds, tmp_path):
    """CKV_SLM_032 (Docker twin) reads files/<node>/auth-proxy/nginx.conf through the compose config; the whole
    gate passes on the generated build."""
    from slm_deploy.gate.runner import run_gate

    build = tmp_path / "build"
    shutil.copytree(builds["docker"], build)
    result = run_gate(build, "t", use_cache=False, write_reports=False)
    assert result.ok, [(f.check_id, f.resource, f.message) for f in result.failed]
    assert [f.resource for f in result.passed if f.check_id == "CKV_SLM_032"] == [f"service.{NODE}-auth-proxy"]


@pytest.mark.parametrize("target", ["docker", "kubernetes"])
def test_configured_keys_reach_only_the_keys_file(target, tmp_path, monkeypatch):
    """clientKeys (decrypted, as the Pulumi CLI passes it): chat-app's two keys are hashed into the proxy's keys
    file, batch-jobs keeps a generated key; no key or hash anywhere in the rendered build."""
    keys_reach_only_the_keys_file(_project(tmp_path / "p", target, CLIENTS), tmp_path, monkeypatch,
                                  {"chat-app": [CHAT_KEY, CHAT_NEXT]},
                                  f"{NAMED_CONF_DIR}/clients.keys" if target == "docker" else f"{NODE}-auth-proxy-keys",
                                  generated_for="batch-jobs")


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("clients,expected", [
    ([CLIENTS[1], {**CLIENTS[1], "rpm": 5}], "onnxEdge[0].apiClients[1].name = 'batch-jobs': client names must be unique; batch-jobs appears more than once"),
    ([{**CLIENTS[1], "rpm": 0}], "onnxEdge[0].apiClients[0].rpm = 0: "),
    ([{**CLIENTS[1], "rpm": -3}], "onnxEdge[0].apiClients[0].rpm = -3: "),
    ([{**CLIENTS[1], "concurrency": 0}], "onnxEdge[0].apiClients[0].concurrency = 0: "),
    ([{**CLIENTS[1], "concurrency": -1}], "onnxEdge[0].apiClients[0].concurrency = -1: "),
    ([{**CLIENTS[1], "models": [MODEL, "qwen3-0.6b"]}], f"onnxEdge[0].apiClients[0].models[1] = 'qwen3-0.6b': not a model served here; served models: {MODEL}"),
    ([{**CLIENTS[1], "name": VERIFY_CLIENT}], f"onnxEdge[0].apiClients[0].name = '{VERIFY_CLIENT}': {VERIFY_CLIENT} is reserved"),
])
def test_bad_clients_are_one_located_line_exit_2_nothing_written(clients, expected, tmp_path, monkeypatch):
    refused_as_one_located_line(_project(tmp_path / "p", "docker", clients), tmp_path, monkeypatch, expected)


# --------------------------------------------------------------------------- live, real nginx + njs
def _start_edge_server(model_dir: Path, workdir: Path) -> tuple[subprocess.Popen, int]:
    """The edge server as shipped, serving the tiny model under the node's model id, its key = SERVER_KEY."""
    keys = workdir / "api-key"
    keys.write_text(f"{SERVER_KEY}\n")
    env = {**os.environ, "SLM_MODEL_DIR": str(model_dir), "SLM_MODEL_ID": MODEL, "SLM_API_KEY_FILE": str(keys),
           "SLM_MAX_LENGTH": "64", "SLM_CONCURRENCY": "2", "SLM_MAX_QUEUE": "16", "SLM_HOST": "127.0.0.1", "SLM_PORT": "0"}
    proc = subprocess.Popen([sys.executable, str(SERVER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=workdir)
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("msg") == "listening":
            port = record["port"]
            break
        assert time.monotonic() < deadline, "the edge server did not start"
    else:
        raise AssertionError("the edge server exited before listening")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep its pipe drained
    while request(f"http://127.0.0.1:{port}/ready")[0] != 200:
        assert time.monotonic() < deadline and proc.poll() is None, "the model never became ready"
        time.sleep(0.05)
    return proc, port


@pytest.fixture(scope="module")
def edge_server(tiny_model_dir, tmp_path_factory):
    proc, port = _start_edge_server(tiny_model_dir, tmp_path_factory.mktemp("edge-server"))
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module", params=["docker", "kubernetes"])
def live(request, builds, edge_server, tmp_path_factory):
    """Per target: the generated proxy in front of the real edge server, and a second copy in front of a stand-in
    that records every header it receives."""
    require_tools()
    target = request.param
    files = _proxy_files(builds, target)
    keys_path = f"{NAMED_CONF_DIR}/clients.keys" if target == "docker" else f"{NAMED_KEYS_DIR}/clients.keys"
    upstream_path = UPSTREAM_KEY_FILE if target == "docker" else f"{NAMED_UPSTREAM_DIR}/api-key"
    common = {"conf_dir": NAMED_CONF_DIR, "keys_file": keys_path, "keys": KEYS, "upstream_key_file": upstream_path,
              "upstream_key": SERVER_KEY}
    stand_in = StandIn(MODEL, stream_gap=0.4)
    proxy = NamedProxy(tmp_path_factory.mktemp(f"edge-{target}"), files, upstream_port=edge_server, **common)
    recorded = NamedProxy(tmp_path_factory.mktemp(f"edge-{target}-standin"), files, upstream_port=stand_in.port, **common)
    try:
        yield {"proxy": proxy, "recorded": recorded, "stand_in": stand_in, "target": target}
    finally:
        proxy.stop()
        recorded.stop()
        stand_in.close()


def _chat(proxy: NamedProxy, key: str | None, model: str = MODEL, **extra):
    return request(proxy.url + "/v1/chat/completions", key=key,
                   body={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **extra})


def test_clients_reach_the_real_edge_server_with_the_servers_key(live):
    """The real server authenticates every request: it answers only because the proxy presents its key."""
    for key in (CHAT_KEY, CHAT_NEXT):  # both keys of a client work while it rolls over
        status, _, body = _chat(live["proxy"], key)
        assert status == 200, body
        assert json.loads(body)["model"] == MODEL and json.loads(body)["choices"][0]["message"]["role"] == "assistant"
    log = live["proxy"].access_log()
    assert '"client":"chat-app"' in log and not any(k in log for k in (CHAT_KEY, CHAT_NEXT, BATCH_KEY, SERVER_KEY))


def test_the_upstream_sees_the_servers_key_never_a_clients(live):
    status, _, body = _chat(live["recorded"], CHAT_KEY)
    assert status == 200, body
    headers = live["stand_in"].seen.headers
    assert headers and all(h.get("authorization") == f"Bearer {SERVER_KEY}" for h in headers)
    assert not any(k in json.dumps(headers) for k in (CHAT_KEY, CHAT_NEXT, BATCH_KEY))


def test_without_the_server_key_file_the_real_server_refuses(live):
    """No upstream key (an empty or missing file): the proxy sends none and the server itself answers 401."""
    proxy = live["proxy"]
    proxy.write_upstream_key("")
    try:
        status, _, body = _chat(proxy, CHAT_KEY)
        assert status == 401, body
    finally:
        proxy.write_upstream_key(SERVER_KEY)
    assert _chat(proxy, CHAT_KEY)[0] == 200


@pytest.mark.parametrize("header", [None, "Bearer sk-wrong", f"Bearer {CHAT_KEY.swapcase()}", f"Bearer {CHAT_KEY[:-1]}",
                                    f"Bearer {CHAT_KEY}x", f"Basic {CHAT_KEY}", f"Bearer {SERVER_KEY}"])
def test_wrong_or_case_flipped_key_is_401(live, header):
    """The server's own key is not a client key either: only the proxy presents it."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(live["proxy"].url + "/v1/chat/completions", data=json.dumps({"model": MODEL}).encode(),
                                 headers={"Content-Type": "application/json", **({"Authorization": header} if header else {})})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=10)
    assert caught.value.code == 401 and openai_error(caught.value.read())["code"] == "invalid_api_key"
    assert caught.value.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_a_model_this_node_does_not_serve_is_404_and_models_lists_the_node_model(live):
    """One node serves one model, which every client's allow-list must hold (a client listing another is refused
    at load, test_bad_clients_...): a request naming another model is the proxy's 404, before the server."""
    status, _, body = _chat(live["proxy"], CHAT_KEY, "qwen3-0.6b")
    assert status == 404 and openai_error(body)["code"] == "model_not_found"
    status, _, body = request(live["proxy"].url + "/v1/models", key=BATCH_KEY)
    assert status == 200 and [m["id"] for m in json.loads(body)["data"]] == [MODEL]


def test_health_and_readiness_pass_through_and_metrics_stay_closed(live):
    """/health and /ready are the server's, unauthenticated (probes); /metrics and native paths are not served."""
    for path in ("/health", "/ready"):
        status, _, body = request(live["proxy"].url + path)
        assert status == 200, (path, body)
    assert json.loads(request(live["proxy"].url + "/ready")[2])["model"] == MODEL  # answered by the real server
    for path in ("/metrics", "/v1/chat"):
        assert request(live["proxy"].url + path, key=CHAT_KEY)[0] == 404, path


def test_over_rpm_is_429_with_retry_after_in_openai_shape(live):
    proxy = live["proxy"]
    codes = []
    for _ in range(3):  # batch-jobs: 2 per minute, no burst
        status, headers, body = _chat(proxy, BATCH_KEY)
        codes.append(status)
    assert codes[0] == 200 and codes[-1] == 429, codes
    assert headers["retry-after"] == "30"  # one request's worth of 2 per minute
    error = openai_error(body)
    assert error["code"] == "rate_limit_exceeded" and "batch-jobs" in error["message"]
    assert _chat(proxy, CHAT_KEY)[0] == 200  # another client is not limited by it


def test_over_concurrency_is_429(live):
    """chat-app may have one request in flight: a second one while a stream runs is refused."""
    proxy = live["recorded"]  # the stand-in's stream is slow enough to overlap
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(zip(("status", "headers", "body"),
                                                              _chat(proxy, CHAT_KEY, stream=True))))
    thread.start()
    time.sleep(0.3)
    status, headers, body = _chat(proxy, CHAT_NEXT)
    thread.join(timeout=30)
    assert first["status"] == 200 and status == 429 and headers["retry-after"] == "1"
    assert "concurrency" in openai_error(body)["message"]


def test_a_rotated_keys_file_applies_without_a_restart(live):
    proxy = live["proxy"]
    proxy.write_keys({"chat-app": [CHAT_NEXT], "batch-jobs": [BATCH_KEY]})
    try:
        assert _chat(proxy, CHAT_KEY)[0] == 401
        assert _chat(proxy, CHAT_NEXT)[0] == 200
    finally:
        proxy.write_keys(KEYS)
