"""Run a generated auth-proxy nginx.conf in real nginx on 127.0.0.1, in front of a stand-in upstream
(not a test module).

The only rewrites are the ones a test process needs, each asserted to have happened, so a template
change that moves them fails loudly instead of silently testing something else:
- listen ports -> free ports on 127.0.0.1 (the pod's 8080/9090 may be taken, and tests must not listen on
  every interface);
- the upstream (``127.0.0.1:8000`` in a pod, ``ollama:11434`` on a Docker network) -> the stand-in;
- pid and temp paths -> the test's tmp dir (parallel test workers must not share /tmp/nginx.pid);
- ``include /etc/auth-proxy/keys.map`` -> the test's keys file (in production a mounted Secret).
Everything else (the map, the locations, the limits, the headers) runs as generated.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body_len: int


@dataclass
class Upstream:
    """A stand-in model server: answers 200 with a JSON echo and records what reached it."""

    server: ThreadingHTTPServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_upstream() -> Upstream:
    seen: list[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            remaining = length
            while remaining:
                remaining -= len(self.rfile.read(min(remaining, 1 << 16)))
            seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, length))
            data = json.dumps({"upstream": True, "path": self.path, "body_len": length}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Upstream(server, seen)


def _sub(pattern: str, repl: str, text: str, *, at_least: int = 1) -> str:
    new, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
    assert n >= at_least, f"rewrite {pattern!r} matched {n} times: the generated config changed shape"
    return new


@dataclass
class ProxyPorts:
    public: int
    metrics: int | None


def rewrite_for_test(conf: str, work: Path, keys_file: Path, upstream_port: int) -> tuple[str, ProxyPorts]:
    """The generated config with only the test-process rewrites listed in the module docstring."""
    temp = work / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    conf = _sub(r"^pid /tmp/nginx\.pid;", f"pid {work}/nginx.pid;", conf)
    conf = _sub(r"(_temp_path) /tmp/", rf"\1 {temp}/", conf, at_least=5)
    conf = _sub(r"include /etc/auth-proxy/keys\.map;", f"include {keys_file};", conf)
    conf = _sub(r"http://(127\.0\.0\.1:8000|127\.0\.0\.1:11434|ollama:11434)", f"http://127.0.0.1:{upstream_port}", conf)
    listens = re.findall(r"^\s*listen (\d+);", conf, flags=re.MULTILINE)
    assert listens, "no listen directive"
    ports = ProxyPorts(public=free_port(), metrics=free_port() if len(listens) > 1 else None)
    conf = _sub(rf"^(\s*)listen {listens[0]};", rf"\g<1>listen 127.0.0.1:{ports.public};", conf)
    if ports.metrics:
        conf = _sub(rf"^(\s*)listen {listens[1]};", rf"\g<1>listen 127.0.0.1:{ports.metrics};", conf)
    return conf, ports


def nginx_args(conf_path: Path, *, foreground: bool = False) -> list[str]:
    assert NGINX, "nginx not installed: `./dev test` installs Debian's nginx (apt-get install -y nginx)"
    # -e: no write to the compiled-in /var/log/nginx/error.log; -p: prefix for any relative path.
    args = [NGINX, "-e", "/dev/stderr", "-p", str(conf_path.parent), "-c", str(conf_path)]
    globals_ = []
    if os.geteuid() == 0:
        # As root, nginx would switch workers to `nobody`, who cannot enter pytest's 0700 tmp dirs
        # (request bodies are buffered there). The container runs nginx as its non-root uid throughout.
        globals_.append("user root;")
    if foreground:
        globals_.append("daemon off;")
    return args + (["-g", " ".join(globals_)] if globals_ else [])


def nginx_test(conf_path: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a config file."""
    return subprocess.run([*nginx_args(conf_path), "-t"], capture_output=True, text=True, timeout=30)


class RunningNginx:
    def __init__(self, conf_path: Path, ports: ProxyPorts) -> None:
        self.ports = ports
        self.log = conf_path.parent / "nginx.out"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(nginx_args(conf_path, foreground=True), stdout=self._out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            assert self.proc.poll() is None, f"nginx exited: {self.log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", ports.public), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"nginx did not listen: {self.log.read_text()}"
                time.sleep(0.05)

    def request(self, method: str, path: str, *, port: int | None = None, headers: dict | None = None,
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.ports.public, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except (ConnectionResetError, BrokenPipeError) as exc:  # nginx may close after an early 413
            return -1, {"error": repr(exc)}, b""
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        finally:
            self._out.close()
