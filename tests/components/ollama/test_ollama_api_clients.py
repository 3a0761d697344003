"""Ollama's auth proxy with named clients (ollama.apiClients): the model gateway's client shape, keys and
nginx config on Docker and Kubernetes. The generated files run in real nginx + njs on 127.0.0.1 in front of
a stand-in model server; bad input is one located line, exit 2, nothing written."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from components.auth_proxy import NAMED_CONF_DIR, NAMED_KEYS_DIR
from components.gateway.constants import VERIFY_CLIENT
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render
from stacks.loader import load_stack, project_root
from stacks.schema import PROJECT
from tests.gateway.client_config import keys_reach_only_the_keys_file, refused_as_one_located_line
from tests.gateway.harness import StandIn, openai_error, request, require_tools
from tests.gateway.named_proxy import NamedProxy

PHI, QWEN = "phi4-mini:3.8b-q4_K_M", "qwen3:0.6b-q4_K_M"
CLIENTS = [
    {"name": "chat-app", "models": [PHI, "reasoning"], "rpm": 6000, "concurrency": 1},
    {"name": "batch-jobs", "models": [QWEN], "rpm": 2, "concurrency": 4, "burst": 0},
]
CHAT_KEY, CHAT_NEXT, BATCH_KEY = "sk-Chat-AbCdEf0123456789-xyzXYZ-0001", "sk-Chat-Next-9876543210-abcABC-0002", "sk-Batch-ZyXw9876543210-qQrRsS-0003"


def _project(root: Path, base: str, update: dict, name: str = "t") -> Path:
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())
    data = yaml.safe_load((project_root() / "stacks" / f"Pulumi.{base}.yaml").read_text())
    data["config"][f"{PROJECT}:ollama"].update(copy.deepcopy(update))
    data = json.loads(json.dumps(data, default=str))  # no shared objects: stack files refuse YAML anchors
    (root / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def _clients(base: str) -> list[dict]:
    clients = copy.deepcopy(CLIENTS)
    if base == "cpu":  # the cpu stack has no Modelfile variants
        clients[0]["models"] = [PHI]
    return clients


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ollama-clients")
    out = {}
    for base in ("dev", "cpu"):
        project = _project(root / base, base, {"authProxy": True, "apiClients": _clients(base)})
        out[base] = root / base / "build"
        render(synth_stack(load_stack("t", project)), out[base])
    return out


# --------------------------------------------------------------------------- what is generated
def test_docker_proxy_reads_config_and_hashed_keys_from_files_only(builds):
    compose = yaml.safe_load((builds["dev"] / "compose.yaml").read_text())
    proxy = compose["services"]["ollama-auth-proxy"]
    assert {c["target"] for c in proxy["configs"]} == {f"{NAMED_CONF_DIR}/nginx.conf", f"{NAMED_CONF_DIR}/gateway.js"}
    [secret] = proxy["secrets"]
    assert secret["target"] == f"{NAMED_CONF_DIR}/clients.keys"
    assert proxy["labels"]["slm-deploy.io/secret-format"] == f"{NAMED_CONF_DIR}/clients.keys=client-key-hashes"
    assert proxy["labels"]["slm-deploy.io/api-clients"] == "chat-app,batch-jobs"  # names, never keys
    assert "environment" not in proxy and proxy["command"] == ["nginx", "-c", f"{NAMED_CONF_DIR}/nginx.conf", "-g", "daemon off;"]
    conf = (builds["dev"] / "files" / "ollama" / "nginx.conf").read_text()
    assert "server ollama:11434;" in conf and "rate=6000r/m" in conf and "rate=2r/m" in conf
    assert (builds["dev"] / "files" / "ollama" / "gateway.js").is_file()


def test_kubernetes_sidecar_mounts_the_keys_secret_as_a_directory(builds):
    manifests = builds["cpu"] / "manifests"
    deployment = yaml.safe_load((manifests / "slm-cpu.deployment.ollama.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    [proxy] = [c for c in pod["containers"] if c["name"] == "auth-proxy"]
    keys_mount = next(m for m in proxy["volumeMounts"] if m["name"] == "auth-proxy-keys")
    assert keys_mount["mountPath"] == NAMED_KEYS_DIR and "subPath" not in keys_mount  # rotation reaches the proxy
    assert "env" not in proxy and not any("sk-" in a for a in proxy["args"])
    config_map = yaml.safe_load((manifests / "slm-cpu.configmap.ollama-auth-proxy.yaml").read_text())
    assert set(config_map["data"]) == {"nginx.conf", "gateway.js", "metrics_exporter.py"}
    [exporter] = [c for c in pod["containers"] if c["name"] == "auth-proxy-metrics"]  # per-client metrics
    assert [p["name"] for p in exporter["ports"]] == ["client-metrics"] and "env" not in exporter
    policy = yaml.safe_load((manifests / "slm-cpu.networkpolicy.ollama.yaml").read_text())
    [rule] = [r for r in policy["spec"]["ingress"] if r["ports"] == [{"port": "client-metrics", "protocol": "TCP"}]]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]
    assert f'"{VERIFY_CLIENT}" $gw_client;' in config_map["data"]["nginx.conf"]  # the smoke Job's own client
    smoke = next(manifests.glob("slm-cpu.job.ollama-smoke-*.yaml"))
    assert "ollama-api-key" in smoke.read_text()  # its key: slm-verify's, from a Secret file


@pytest.mark.parametrize("base", ["dev", "cpu"])
def test_configured_keys_reach_only_the_keys_file(base, tmp_path, monkeypatch):
    """clientKeys (decrypted, as the Pulumi CLI passes it): chat-app's two keys (rotation overlap) are hashed into
    the proxy's keys file, batch-jobs keeps a generated key; no key or hash anywhere in the rendered build."""
    project = _project(tmp_path / "p", base, {"authProxy": True, "apiClients": _clients(base)})
    keys_reach_only_the_keys_file(project, tmp_path, monkeypatch, {"chat-app": [CHAT_KEY, CHAT_NEXT]},
                                  f"{NAMED_CONF_DIR}/clients.keys" if base == "dev" else "ollama-auth-proxy-keys",
                                  generated_for="batch-jobs")


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("clients,proxy,expected", [
    ([CLIENTS[1], {**CLIENTS[1], "rpm": 5}], True, "ollama.apiClients[1].name = 'batch-jobs': client names must be unique; batch-jobs appears more than once"),
    ([{**CLIENTS[1], "rpm": 0}], True, "ollama.apiClients[0].rpm = 0: "),
    ([{**CLIENTS[1], "concurrency": -1}], True, "ollama.apiClients[0].concurrency = -1: "),
    ([{**CLIENTS[1], "models": [QWEN, "llama3:8b"]}], True, "ollama.apiClients[0].models[1] = 'llama3:8b': not a model served here; served models: "),
    ([{**CLIENTS[1], "name": VERIFY_CLIENT}], True, f"ollama.apiClients[0].name = '{VERIFY_CLIENT}': {VERIFY_CLIENT} is reserved"),
    ([CLIENTS[1]], False, "ollama.authProxy = False: must be true with apiClients"),
])
def test_bad_clients_are_one_located_line_exit_2_nothing_written(clients, proxy, expected, tmp_path, monkeypatch):
    project = _project(tmp_path / "p", "dev", {"authProxy": proxy, "apiClients": clients})
    refused_as_one_located_line(project, tmp_path, monkeypatch, expected)


# --------------------------------------------------------------------------- live, real nginx + njs
@pytest.fixture(scope="module", params=["dev", "cpu"])
def live(request, builds, tmp_path_factory):
    require_tools()
    base = request.param
    files_dir = builds[base] / "files" / ("ollama" if base == "dev" else "ollama-auth-proxy")
    files = {f.name: f.read_text() for f in files_dir.iterdir()}  # Kubernetes: with the metrics exporter
    keys_path = f"{NAMED_CONF_DIR}/clients.keys" if base == "dev" else f"{NAMED_KEYS_DIR}/clients.keys"
    stand_in = StandIn("ollama", stream_gap=0.4)
    proxy = NamedProxy(tmp_path_factory.mktemp(f"named-{base}"), files, conf_dir=NAMED_CONF_DIR, keys_file=keys_path,
                       upstream_port=stand_in.port, keys={"chat-app": [CHAT_KEY, CHAT_NEXT], "batch-jobs": [BATCH_KEY]})
    try:
        yield {"proxy": proxy, "stand_in": stand_in, "base": base}
    finally:
        proxy.stop()
        stand_in.close()


def _chat(proxy: NamedProxy, key: str | None, model: str, **extra):
    return request(proxy.url + "/v1/chat/completions", key=key,
                   body={"model": model, "messages": [{"role": "user", "content": "hi"}], **extra})


def test_each_client_reaches_its_models_and_the_server_never_sees_a_key(live):
    proxy, stand_in = live["proxy"], live["stand_in"]
    for key in (CHAT_KEY, CHAT_NEXT):  # both keys of a client work while it rolls over
        status, _, body = _chat(proxy, key, PHI)
        assert status == 200, body
    assert stand_in.seen.bodies[-1]["model"] == PHI
    for headers in stand_in.seen.headers:
        assert "authorization" not in headers and not any(k in json.dumps(headers) for k in (CHAT_KEY, CHAT_NEXT, BATCH_KEY))
    log = proxy.access_log()
    assert '"client":"chat-app"' in log and not any(k in log for k in (CHAT_KEY, CHAT_NEXT, BATCH_KEY))


@pytest.mark.parametrize("header", [None, "Bearer sk-wrong", f"Bearer {CHAT_KEY.swapcase()}", f"Bearer {CHAT_KEY[:-1]}",
                                    f"Bearer {CHAT_KEY}x", f"Basic {CHAT_KEY}"])
def test_wrong_or_case_flipped_key_is_401(live, header):
    status, headers, body = _raw(live, header)
    assert status == 401 and openai_error(body)["code"] == "invalid_api_key"
    assert headers.get("www-authenticate", "").startswith("Bearer")
    assert live["stand_in"].seen.paths.count("/v1/chat/completions") == len(live["stand_in"].seen.bodies)


def _raw(live, header: str | None):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(live["proxy"].url + "/v1/chat/completions", data=json.dumps({"model": PHI}).encode(),
                                 headers={"Content-Type": "application/json", **({"Authorization": header} if header else {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def test_model_outside_the_allow_list_is_403_and_unknown_is_404(live):
    status, _, body = _chat(live["proxy"], CHAT_KEY, QWEN)
    assert status == 403 and openai_error(body)["code"] == "model_not_allowed"
    status, _, body = _chat(live["proxy"], CHAT_KEY, "llama3:8b")
    assert status == 404 and openai_error(body)["code"] == "model_not_found"


def test_models_list_is_per_key_and_ollama_native_routes_are_closed(live):
    status, _, body = request(live["proxy"].url + "/v1/models", key=BATCH_KEY)
    assert status == 200 and [m["id"] for m in json.loads(body)["data"]] == [QWEN]
    for path in ("/api/tags", "/api/pull", "/api/version"):
        status, _, body = request(live["proxy"].url + path, key=CHAT_KEY)
        assert status == 404, path


def test_over_rpm_is_429_with_retry_after_in_openai_shape(live):
    proxy = live["proxy"]
    codes = []
    for _ in range(3):  # batch-jobs: 2 per minute, no burst
        status, headers, body = _chat(proxy, BATCH_KEY, QWEN)
        codes.append(status)
    assert codes[0] == 200 and codes[-1] == 429, codes
    assert headers["retry-after"] == "30"  # one request's worth of 2 per minute
    error = openai_error(body)
    assert error["code"] == "rate_limit_exceeded" and "batch-jobs" in error["message"]
    assert _chat(proxy, CHAT_KEY, PHI)[0] == 200  # another client is not limited by it


def test_over_concurrency_is_429(live):
    """chat-app may have one request in flight: a second one while a stream runs is refused."""
    proxy = live["proxy"]
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(zip(("status", "headers", "body"),
                                                              _chat(proxy, CHAT_KEY, PHI, stream=True))))
    thread.start()
    time.sleep(0.3)
    status, headers, body = _chat(proxy, CHAT_NEXT, PHI)
    thread.join(timeout=30)
    assert first["status"] == 200 and status == 429 and headers["retry-after"] == "1"
    assert "concurrency" in openai_error(body)["message"]


def test_a_rotated_keys_file_applies_without_a_restart(live):
    proxy = live["proxy"]
    proxy.write_keys({"chat-app": [CHAT_NEXT], "batch-jobs": [BATCH_KEY]})
    try:
        assert _chat(proxy, CHAT_KEY, PHI)[0] == 401
        assert _chat(proxy, CHAT_NEXT, PHI)[0] == 200
    finally:
        proxy.write_keys({"chat-app": [CHAT_KEY, CHAT_NEXT], "batch-jobs": [BATCH_KEY]})


def test_the_secrets_readme_recipe_gives_keys_the_proxy_accepts(builds, tmp_path):
    """The compose export's secrets README, followed literally: one key per client, hashed into the file the
    proxy reads; the printed keys get through, case-flipped ones do not."""
    require_tools()
    readme = (builds["dev"] / "secrets" / "README.md").read_text()
    recipe = re.search(r"^## `secrets/ollama-auth-proxy-clients-keys`\n.*?```sh\n(.*?)```", readme, re.M | re.S)[1]
    (tmp_path / "secrets").mkdir()
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    printed = dict(re.findall(r"^key for (\S+): (\S+)$", run.stdout, re.M))
    assert set(printed) == {"chat-app", "batch-jobs"}
    keys_text = (tmp_path / "secrets" / "ollama-auth-proxy-clients-keys").read_text()
    assert not any(k in keys_text for k in printed.values())
    files_dir = builds["dev"] / "files" / "ollama"
    stand_in = StandIn("ollama")
    proxy = NamedProxy(tmp_path / "nginx", {n: (files_dir / n).read_text() for n in ("nginx.conf", "gateway.js")},
                       conf_dir=NAMED_CONF_DIR, keys_file=f"{NAMED_CONF_DIR}/clients.keys", upstream_port=stand_in.port,
                       keys=keys_text)
    try:
        assert _chat(proxy, printed["chat-app"], PHI)[0] == 200
        assert _chat(proxy, printed["batch-jobs"], QWEN)[0] == 200
        assert _chat(proxy, printed["chat-app"].upper(), PHI)[0] == 401
    finally:
        proxy.stop()
        stand_in.close()


# --------------------------------------------------------------------------- the gate (CKV_SLM_032, Docker twin)
def test_gate_judges_the_docker_proxy_config_it_mounts(builds, tmp_path):
    """CKV_SLM_032 reads files/ollama/nginx.conf through the compose config that mounts it: the generated one
    passes; with one client's limit_conn removed, the gate fails on the proxy service."""
    import shutil

    from slm_deploy.gate.runner import run_gate

    build = tmp_path / "build"
    shutil.copytree(builds["dev"], build)
    result = run_gate(build, "t", use_cache=False, write_reports=False)
    assert [f.resource for f in result.passed if f.check_id == "CKV_SLM_032"] == ["service.ollama-auth-proxy"]
    conf = build / "files" / "ollama" / "nginx.conf"
    text = conf.read_text()
    tampered = re.sub(r"^\s*limit_conn gw_conn_1 \d+;\n", "", text, flags=re.M)
    assert tampered != text
    conf.write_text(tampered)
    result = run_gate(build, "t", use_cache=False, write_reports=False)
    [failed] = [f for f in result.failed if f.check_id == "CKV_SLM_032"]
    assert failed.resource == "service.ollama-auth-proxy" and "batch-jobs" in failed.message and not result.ok
