"""The gateway proxy in GAIE mode (cluster.inferenceGateway), on 127.0.0.1: real nginx + njs with the config the
component generates for that mode (gateway_nginx_conf with the model header, as components/gateway/k8s.py calls it)
in front of a stand-in Gateway that applies the rules the component renders for its HTTPRoute
(components/gateway/http_route.route_rules): an exact match on X-Gateway-Model-Name under /v1/, else 404, as a
Gateway does. The stand-in records every request; it must see the body's model in the header, never a key."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from components.gateway.constants import MODEL_HEADER
from components.gateway.http_route import route_rules
from components.gateway.inference_pool import PoolRef
from components.gateway.proxy import ProxyClient

import yaml

from components.gateway.proxy import GATEWAY_JS, keys_file_text

from .harness import Gateway, LoopbackServer, Process, free_port, openai_error, request, require_tools, wait_http

CHAT_KEY = "sk-Chat-AbCdEf0123456789"
BATCH_KEY = "sk-Batch-ZyXw9876543210"
LIMITED_KEY = "sk-Limited-Mm00Nn11Oo22"
CHAT = {"messages": [{"role": "user", "content": "hello"}]}
POOLS = [PoolRef("gateway-phi", ("phi", "phi-lora")), PoolRef("gateway-qwen", ("qwen",))]


class StandInGateway(LoopbackServer):
    """A Gateway listener on 127.0.0.1 routing by the HTTPRoute rules the component renders; records what it sees."""

    def __init__(self, rules: list[dict]) -> None:
        self.rules = rules
        self.seen: list[tuple[str, dict[str, str], dict]] = []
        self.lock = threading.Lock()
        self._serve()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def route(self, path: str, headers: dict[str, str]) -> str | None:
        """The pool of the first rule with a match (Gateway API: path prefix and exact header value), else None."""
        for rule in self.rules:
            for match in rule["matches"]:
                if path.startswith(match["path"]["value"]) and all(
                        headers.get(h["name"].lower()) == h["value"] for h in match["headers"]):
                    return rule["backendRefs"][0]["name"]
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with gateway.lock:
                    gateway.seen.append((self.path, headers, body))
                pool = gateway.route(self.path, headers)
                data = json.dumps({"pool": pool, "model": body.get("model")} if pool else {"error": "no route"}).encode()
                self.send_response(200 if pool else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture(scope="module")
def gaie(tmp_path_factory):
    require_tools()
    upstream = StandInGateway(route_rules(POOLS))
    proxy = None
    try:
        clients = [ProxyClient("chat-app", ("phi", "phi-lora", "qwen"), rpm=6000, concurrency=8),
                   ProxyClient("batch-jobs", ("qwen",), rpm=6000, concurrency=4),
                   ProxyClient("limited", ("qwen",), rpm=2, concurrency=4, burst=0)]
        proxy = Gateway(tmp_path_factory.mktemp("gaie"), clients, ["phi", "phi-lora", "qwen"], upstream.address,
                        {"chat-app": [CHAT_KEY], "batch-jobs": [BATCH_KEY], "limited": [LIMITED_KEY]}, model_header=MODEL_HEADER)
        yield proxy, upstream
    finally:
        if proxy is not None:
            proxy.stop()
        upstream.close()


def _post(proxy: Gateway, key: str | None, body: dict, route: str = "/v1/chat/completions",
          extra_headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {}),
               **(extra_headers or {})}
    conn.request("POST", route, body=json.dumps(body), headers=headers)
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def test_each_model_reaches_its_pool_by_the_header(gaie):
    proxy, upstream = gaie
    for model, pool, route in (("phi", "gateway-phi", "/v1/chat/completions"), ("phi-lora", "gateway-phi", "/v1/completions"),
                               ("qwen", "gateway-qwen", "/v1/embeddings")):
        status, _, body = _post(proxy, CHAT_KEY, {"model": model, **CHAT}, route)
        assert status == 200 and json.loads(body) == {"pool": pool, "model": model}, body
        path, headers, seen_body = upstream.seen[-1]
        assert path == route and headers[MODEL_HEADER.lower()] == model and seen_body["model"] == model
        assert headers["host"] == "127.0.0.1"  # the Gateway address's host, not nginx's upstream name


def test_a_client_cannot_choose_the_header(gaie):
    """The header comes from the body's model, checked against the allow-list; a client's own header is replaced."""
    proxy, upstream = gaie
    status, _, body = _post(proxy, CHAT_KEY, {"model": "phi", **CHAT}, extra_headers={MODEL_HEADER: "qwen"})
    assert status == 200 and json.loads(body)["pool"] == "gateway-phi"
    assert upstream.seen[-1][1][MODEL_HEADER.lower()] == "phi"
    count = len(upstream.seen)
    status, _, body = _post(proxy, BATCH_KEY, {"model": "phi", **CHAT}, extra_headers={MODEL_HEADER: "qwen"})
    assert status == 403 and openai_error(body)["code"] == "model_not_allowed"
    assert len(upstream.seen) == count  # refused before the Gateway


def test_the_gateway_never_sees_a_key(gaie):
    proxy, upstream = gaie
    assert _post(proxy, CHAT_KEY, {"model": "qwen", **CHAT})[0] == 200
    with upstream.lock:
        assert upstream.seen
        for _, headers, body in upstream.seen:
            assert "authorization" not in headers
            assert not any(key in json.dumps(headers) + json.dumps(body) for key in (CHAT_KEY, BATCH_KEY, LIMITED_KEY))


@pytest.mark.parametrize("key,model,status,code", [
    (None, "phi", 401, "invalid_api_key"),
    (CHAT_KEY.swapcase(), "phi", 401, "invalid_api_key"),
    (BATCH_KEY, "phi", 403, "model_not_allowed"),
    (CHAT_KEY, "gpt-9", 404, "model_not_found"),
])
def test_refusals_are_unchanged_and_never_reach_the_gateway(gaie, key, model, status, code):
    proxy, upstream = gaie
    count = len(upstream.seen)
    got, headers, body = _post(proxy, key, {"model": model, **CHAT})
    assert got == status and openai_error(body)["code"] == code
    if status == 401:
        assert headers["www-authenticate"].startswith("Bearer")
    assert len(upstream.seen) == count


def test_models_listed_per_key_by_the_proxy(gaie):
    proxy, _ = gaie
    for key, expected in ((CHAT_KEY, ["phi", "phi-lora", "qwen"]), (BATCH_KEY, ["qwen"])):
        status, _, body = request(proxy.url + "/v1/models", key=key)
        assert status == 200 and [m["id"] for m in json.loads(body)["data"]] == expected


def test_over_rpm_is_429_with_retry_after(gaie):
    proxy, _ = gaie
    statuses = [_post(proxy, LIMITED_KEY, {"model": "qwen", **CHAT}) for _ in range(3)]
    assert statuses[0][0] == 200 and statuses[-1][0] == 429, [s[0] for s in statuses]
    assert statuses[-1][1]["retry-after"] == "30"
    assert openai_error(statuses[-1][2])["code"] == "rate_limit_exceeded"


def test_the_rendered_proxy_and_route_work_together(gaie_build, tmp_path):
    """The GAIE build's own nginx.conf (ConfigMap gateway-files; paths moved under tmp_path, the Gateway address
    pointed at the stand-in) in real nginx, in front of a stand-in Gateway applying the build's own HTTPRoute rules:
    each served model reaches its InferencePool, and the Host header is the declared address's host."""
    require_tools()
    manifests = gaie_build / "manifests"
    conf = yaml.safe_load((manifests / "slm-prod.configmap.gateway-files.yaml").read_text())["data"]["nginx.conf"]
    route = yaml.safe_load((manifests / "slm-prod.httproute.gateway.yaml").read_text())
    upstream = StandInGateway(route["spec"]["rules"])
    address = "inference-gateway-istio.gateway-system.svc.cluster.local"
    assert f"server {address}:80;" in conf
    (tmp_path / "js").mkdir()
    shutil.copy(GATEWAY_JS, tmp_path / "js" / "gateway.js")
    (tmp_path / "tmp").mkdir()
    (tmp_path / "clients.keys").write_text(keys_file_text({"chat-app": [CHAT_KEY]}))
    port = free_port()
    conf = (conf.replace(" /tmp/", f" {tmp_path}/tmp/").replace("/etc/gateway/js", str(tmp_path / "js"))
            .replace("/etc/gateway/keys/clients.keys", str(tmp_path / "clients.keys"))
            .replace("listen 8080;", f"listen 127.0.0.1:{port};")
            .replace(f"server {address}:80;", f"server {upstream.address};"))
    if os.geteuid() == 0:  # keep the workers root so they can read tmp_path (the container runs as uid 101)
        conf = conf.replace("worker_processes 1;", "worker_processes 1;\nuser root;")
    (tmp_path / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = Process([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"], tmp_path / "nginx.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        for model, pool in (("phi-4-mini-instruct", "gateway-phi4-mini"), ("qwen3-8b", "gateway-qwen3-8b")):
            status, _, body = request(f"http://127.0.0.1:{port}/v1/chat/completions", key=CHAT_KEY,
                                      body={"model": model, **CHAT})
            assert status == 200 and json.loads(body) == {"pool": pool, "model": model}, body
            _, headers, _ = upstream.seen[-1]
            assert headers["host"] == address and headers[MODEL_HEADER.lower()] == model
            assert "authorization" not in headers
    finally:
        proc.stop()
        upstream.close()
