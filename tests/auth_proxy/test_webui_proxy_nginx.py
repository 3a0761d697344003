"""The Docker web UI proxy's generated config in real nginx on 127.0.0.1, in front of a stand-in Open WebUI:
WebSocket upgrades pass (Socket.IO), streamed responses are not buffered, the browser's Authorization header
reaches the web UI, uploads pass. Rewrites for the test process only (each asserted): pid and temp paths, the
listen port, the upstream address (``open-webui:8080`` on the internal network -> the stand-in)."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nginx_harness import ProxyPorts, RunningNginx, _sub, free_port, nginx_test
from slm_deploy.render import render

STREAM_PATH = "/api/chat/completions"
WS_PATH = "/ws/socket.io/?EIO=4&transport=websocket"


@dataclass
class StandIn:
    """A raw-socket Open WebUI stand-in: records request heads; answers upgrades with 101 + echo, and the
    stream path with two SSE events, the second only after the test saw the first (``release``)."""

    sock: socket.socket
    heads: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]


def _read_head(conn: socket.socket) -> tuple[str, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, rest


def _serve(stand_in: StandIn, conn: socket.socket) -> None:
    with conn:
        request_line, headers, rest = _read_head(conn)
        method, path = request_line.split(" ")[:2]
        body_len = int(headers.get("content-length") or 0)
        got = len(rest)
        while got < body_len:
            got += len(conn.recv(min(1 << 16, body_len - got)))
        stand_in.heads.append({"method": method, "path": path, "headers": headers, "body_len": got})
        if headers.get("upgrade", "").lower() == "websocket":
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            while data := conn.recv(4096):  # echo frames until the client closes
                conn.sendall(data)
            return
        if path == STREAM_PATH:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            first = b"data: one\n\n"
            conn.sendall(b"%x\r\n%s\r\n" % (len(first), first))
            stand_in.release.wait(20)  # the second event only once the client has the first
            second = b"data: two\n\n"
            conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
            return
        body = b'{"ok":true}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (len(body), body))


def _start_stand_in() -> StandIn:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stand_in = StandIn(sock)

    def loop() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=_serve, args=(stand_in, conn), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return stand_in


@pytest.fixture(scope="module")
def conf(synthesized, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("webui-proxy-build")
    render(synthesized("dev"), out)
    return (out / "files" / "ollama" / "webui-nginx.conf").read_text()


@pytest.fixture(scope="module")
def proxy(conf, tmp_path_factory):
    stand_in = _start_stand_in()
    work = tmp_path_factory.mktemp("webui-proxy-nginx")
    (work / "tmp").mkdir()
    text = _sub(r"^pid /tmp/nginx\.pid;", f"pid {work}/nginx.pid;", conf)
    text = _sub(r"(_temp_path) /tmp/", rf"\1 {work}/tmp/", text, at_least=5)
    text = _sub(r"proxy_pass http://open-webui:8080;", f"proxy_pass http://127.0.0.1:{stand_in.port};", text)
    ports = ProxyPorts(public=free_port(), metrics=None)
    text = _sub(r"^(\s*)listen 8080;", rf"\g<1>listen 127.0.0.1:{ports.public};", text)
    path = work / "nginx.conf"
    path.write_text(text)
    result = nginx_test(path)
    assert result.returncode == 0, result.stderr
    nginx = RunningNginx(path, ports)
    yield nginx, stand_in
    alive = nginx.proc.poll() is None
    nginx.stop()
    stand_in.sock.close()
    assert alive, f"nginx died: {nginx.log.read_text()}"


def _connect(nginx) -> socket.socket:
    return socket.create_connection(("127.0.0.1", nginx.ports.public), timeout=10)


def test_websocket_upgrade_reaches_the_web_ui_and_carries_frames(proxy):
    nginx, stand_in = proxy
    with _connect(nginx) as s:
        s.sendall(f"GET {WS_PATH} HTTP/1.1\r\nHost: chat.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        status, headers, rest = _read_head(s)
        assert status.startswith("HTTP/1.1 101"), status
        assert headers["upgrade"].lower() == "websocket"
        seen = stand_in.heads[-1]
        assert seen["path"] == WS_PATH
        assert seen["headers"]["upgrade"] == "websocket" and seen["headers"]["connection"].lower() == "upgrade"
        s.sendall(b"\x81\x05hello")  # bytes after the upgrade travel both ways, untouched
        echoed = rest
        while len(echoed) < 7:
            echoed += s.recv(64)
        assert echoed == b"\x81\x05hello"


def test_streamed_events_reach_the_browser_as_they_come(proxy, conf):
    """The stand-in holds the second event until the client has the first, so a proxy that held the response
    back until it ended fails here (10 s socket timeout). Debian's nginx 1.22 also passes a chunked response's
    first event with ``proxy_buffering on`` (measured: this live check alone does not tell the two apart), so the
    generated config is also asserted to switch buffering off, which keeps long streams out of /tmp too."""
    location = conf.split("location / {", 1)[1]
    assert "proxy_buffering off;" in location and "proxy_request_buffering off;" in location
    nginx, stand_in = proxy
    stand_in.release.clear()
    with _connect(nginx) as s:
        s.sendall(f"GET {STREAM_PATH} HTTP/1.1\r\nHost: chat.local\r\nAuthorization: Bearer session-jwt\r\n\r\n".encode())
        status, headers, received = _read_head(s)
        assert status.startswith("HTTP/1.1 200") and headers["content-type"] == "text/event-stream"
        while b"data: one" not in received:
            received += s.recv(4096)
        assert b"data: two" not in received
        stand_in.release.set()
        while b"data: two" not in received:
            received += s.recv(4096)
    seen = stand_in.heads[-1]
    assert seen["headers"]["authorization"] == "Bearer session-jwt"  # the web UI's own tokens pass
    assert seen["headers"].get("connection", "").lower() != "upgrade"  # no upgrade asked, none forwarded
    assert seen["headers"]["x-forwarded-proto"] == "http" and seen["headers"]["host"] == "chat.local"


def test_uploads_pass_and_health_is_answered_by_nginx(proxy):
    nginx, stand_in = proxy
    before = len(stand_in.heads)
    assert nginx.request("GET", "/healthz")[0] == 200
    assert len(stand_in.heads) == before
    status, _, body = nginx.request("POST", "/api/v1/files/", body=b"x" * (2 << 20),
                                    headers={"Content-Type": "application/octet-stream"})
    assert status == 200 and body == b'{"ok":true}'
    assert stand_in.heads[-1]["body_len"] == 2 << 20


def test_the_upload_limit_is_the_documented_one(conf):
    from components.ollama.webui_proxy import WEBUI_MAX_UPLOAD

    assert re.search(r"client_max_body_size (\S+);", conf)[1] == WEBUI_MAX_UPLOAD
