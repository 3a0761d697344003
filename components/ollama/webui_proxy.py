"""The web UI's entry proxy on a Docker host (nginx): the one container that publishes Open WebUI's port.

Open WebUI joins only internal networks (``<name>-internal`` to reach Ollama, ``<name>-webui-internal`` to be
reached by this proxy), so nothing on the host or the LAN reaches it but through here. The proxy does not
authenticate: Open WebUI's own login does (``WEBUI_AUTH=True``). It forwards what the web UI needs, checked in
Open WebUI 0.6.36 (docs/ollama.md):

* WebSocket upgrades: Socket.IO is mounted at ``/ws`` (``open_webui/main.py:1317``, ``socketio_path="/ws/socket.io"``
  in ``socket/main.py:202``) with the websocket transport only (``socket/main.py:70-71``, ``ENABLE_WEBSOCKET_SUPPORT``
  default true, ``env.py:576-578``), so ``Upgrade`` and ``Connection: upgrade`` are passed on;
* streamed responses (``text/event-stream``, ``utils/chat.py:142``): response buffering is off;
* the browser's ``Authorization`` header (the web UI's own API tokens) is forwarded, unlike the API-key proxy.

Kept apart from :mod:`components.ollama.docker` so the component can declare the file without the Docker SDK.
"""

from __future__ import annotations

from components.templating import render_template

__all__ = ["WEBUI_PROXY_CONF", "WEBUI_PROXY_PORT", "WEBUI_MAX_UPLOAD", "webui_proxy_conf"]

WEBUI_PROXY_CONF = "webui-nginx.conf"
"""The web UI proxy's config, relative to the component's generated files."""
WEBUI_PROXY_PORT = 8080
"""Where the proxy listens inside its container (published on ``webui.hostPort``)."""
WEBUI_MAX_UPLOAD = "64m"
"""Largest request body (document uploads for RAG): 64 MiB."""


def webui_proxy_conf(upstream: str, *, read_timeout_seconds: int = 3600) -> str:
    """nginx.conf of the web UI proxy, forwarding to ``upstream`` (``host:port`` on the internal network)."""
    return render_template("webui-proxy-nginx.conf.j2", upstream=upstream, listen_port=WEBUI_PROXY_PORT,
                           max_body=WEBUI_MAX_UPLOAD, read_timeout=read_timeout_seconds)
