"""Real gateway on 127.0.0.1: stand-in OpenAI servers, the vllm-router binary, nginx + njs, the exporter.

Everything runs from the generated files (components/gateway/proxy.py) in a scratch directory;
nothing is stubbed but the model servers, which record every request they see.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from components.gateway.proxy import EXPORTER_PY, GATEWAY_JS, NJS_MODULE, ProxyClient, gateway_nginx_conf, keys_file_text

ROUTER_BIN = Path(sys.executable).with_name("vllm-router")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_tools() -> None:
    """Fail (not skip) with what to install when a real engine is missing."""
    missing = []
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        missing.append("nginx (Debian package nginx; ./dev test installs it)")
    if not Path(NJS_MODULE).exists():
        missing.append(f"{NJS_MODULE} (Debian package libnginx-mod-http-js; ./dev test installs it)")
    if not ROUTER_BIN.exists():
        missing.append("vllm-router (dev dependency group; uv sync installs it)")
    if missing:
        raise AssertionError("gateway tests need: " + "; ".join(missing))


@dataclass
class Seen:
    """What one stand-in received."""

    paths: list[str] = field(default_factory=list)
    chunks_sent: list[float] = field(default_factory=list)  # time.monotonic() of each SSE chunk written
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) with the handler class ``self._handler()`` returns."""

    port: int
    server: ThreadingHTTPServer

    def _serve(self) -> None:
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StandIn(LoopbackServer):
    """A small OpenAI server for one model: chat/completions (plain or SSE), completions, embeddings, /tokenize."""

    def __init__(self, model: str, *, stream_gap: float = 0.3, delay: float = 0.0) -> None:
        self.model, self.stream_gap, self.delay = model, stream_gap, delay
        self.seen = Seen()
        self._serve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: object) -> None:
                pass

            def _record(self, body: dict | None) -> None:
                with stand_in.seen.lock:
                    stand_in.seen.paths.append(self.path)
                    stand_in.seen.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if body is not None:
                        stand_in.seen.bodies.append(body)

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._record(None)
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": stand_in.model, "object": "model", "owned_by": "standin"}]})
                elif self.path in ("/health", "/liveness", "/readiness"):
                    self._json(200, {})
                else:
                    self._json(404, {"error": "no route"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.endswith("/render"):
                    self._json(404, {"error": "no render"})
                    return
                if self.path == "/tokenize":
                    text = json.dumps(body.get("messages") or body.get("prompt") or "")
                    tokens = list(text.encode())
                    self._json(200, {"tokens": tokens, "count": len(tokens), "max_model_len": 4096})
                    return
                self._record(body)
                if stand_in.delay:
                    time.sleep(stand_in.delay)
                if self.path == "/v1/embeddings":
                    self._json(200, {"object": "list", "model": stand_in.model, "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]})
                    return
                if body.get("stream"):
                    self._stream()
                    return
                self._json(200, {"id": "cmpl-1", "object": "chat.completion", "model": stand_in.model,
                                 "served_by": stand_in.port,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(3):
                    chunk = {"id": "c", "object": "chat.completion.chunk", "model": stand_in.model,
                             "choices": [{"index": 0, "delta": {"content": f"t{i}"}}]}
                    self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
                    time.sleep(stand_in.stream_gap)
                with stand_in.seen.lock:
                    stand_in.seen.chunks_sent.append(time.monotonic())
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def request(url: str, *, key: str | None = None, body: dict | None = None, method: str | None = None,
            timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def openai_error(body: bytes) -> dict:
    """The ``error`` object of an OpenAI-shaped error body (asserting the shape)."""
    payload = json.loads(body)
    assert set(payload) == {"error"} and {"message", "type", "param", "code"} <= set(payload["error"])
    return payload["error"]


class Process:
    def __init__(self, args: list[str], log: Path, **kwargs: object) -> None:
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(args, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()


class Router:
    """vllm-router in IGW (multi-model) mode; workers join through POST /workers as discovery adds them."""

    def __init__(self, workdir: Path, policy: str = "cache_aware") -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.proc = Process(
            [str(ROUTER_BIN), "--host", "127.0.0.1", "--port", str(self.port), "--enable-igw", "--policy", policy,
             "--prometheus-host", "127.0.0.1", "--prometheus-port", str(self.metrics_port), "--log-level", "warning"],
            workdir / "router.log",
        )
        wait_http(f"http://127.0.0.1:{self.port}/liveness", timeout=60)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_worker(self, url: str) -> dict:
        status, _, body = request(f"http://{self.address}/workers", body={"url": url})
        assert status in (200, 201, 202), body
        return json.loads(body)

    def stop(self) -> None:
        self.proc.stop()


class Gateway:
    """nginx (+ njs) with the generated config, and the metrics exporter it logs to."""

    def __init__(self, workdir: Path, clients: list[ProxyClient], models: list[str], router: str,
                 keys: dict[str, list[str]], **conf_options: object) -> None:
        """``conf_options``: further keywords of ``gateway_nginx_conf`` (e.g. ``canaries``, ``canary_router``)."""
        self.dir = workdir
        self.port, self.exporter_port, self.syslog_port = free_port(), free_port(), free_port()
        (workdir / "js").mkdir(parents=True, exist_ok=True)
        shutil.copy(GATEWAY_JS, workdir / "js" / "gateway.js")
        (workdir / "tmp").mkdir(exist_ok=True)
        self.keys_file = workdir / "keys" / "clients.keys"
        self.keys_file.parent.mkdir(exist_ok=True)
        self.write_keys(keys)
        conf = gateway_nginx_conf(
            clients, models, router=router, listen=f"127.0.0.1:{self.port}", keys_file=str(self.keys_file),
            js_dir=str(workdir / "js"), metrics_syslog=f"127.0.0.1:{self.syslog_port}",
            temp_dir=str(workdir / "tmp"), pid_file=str(workdir / "nginx.pid"), **conf_options,
        )
        # Tests run as root: keep the workers root so they can read tmp_path (the container runs as uid 101).
        conf = conf.replace("worker_processes 1;", "worker_processes 1;\nuser root;" if os.geteuid() == 0 else "worker_processes 1;")
        (workdir / "nginx.conf").write_text(conf)
        self.exporter = Process(
            [sys.executable, str(EXPORTER_PY), "--syslog", f"127.0.0.1:{self.syslog_port}",
             "--listen", f"127.0.0.1:{self.exporter_port}"],
            workdir / "exporter.log",
        )
        wait_http(f"http://127.0.0.1:{self.exporter_port}/healthz")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        check = subprocess.run([nginx, "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.nginx = Process([nginx, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
                             workdir / "nginx.log")
        wait_http(f"{self.url}/healthz")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_keys(self, keys: dict[str, list[str]]) -> None:
        """Replace the keys file atomically, as the kubelet swaps a Secret volume's ..data link."""
        staged = self.keys_file.with_suffix(".new")
        staged.write_text(keys_file_text(keys))
        staged.replace(self.keys_file)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.exporter_port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def stop(self) -> None:
        self.nginx.stop(signal.SIGQUIT)
        self.exporter.stop()
