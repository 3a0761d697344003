"""Files the Docker target generates (rendered to ``build/<stack>/files/<name>/`` and gated like every
other generated file): the auth proxy's nginx.conf and the web UI proxy's webui-nginx.conf. Kept apart from :mod:`components.ollama.docker` so the
component can declare them without importing the Docker provider SDK."""

from __future__ import annotations

from components.auth_proxy import nginx_conf
from components.ollama.args import OllamaStackArgs
from components.ollama.constants import OLLAMA_PORT
from components.ollama.webui import WEBUI_PORT
from components.ollama.webui_proxy import WEBUI_PROXY_CONF, webui_proxy_conf

__all__ = ["PROXY_CONF", "WEBUI_PROXY_CONF", "WEBUI_ALIAS", "docker_generated_files"]

PROXY_CONF = "nginx.conf"
"""The auth proxy's config, relative to the component's generated files."""
WEBUI_ALIAS = "open-webui"
"""Open WebUI's name on the internal networks (what the web UI proxy forwards to)."""


def docker_generated_files(args: OllamaStackArgs) -> dict[str, str]:
    """``{relative path: text}`` (no secret in any): the auth proxy's nginx.conf when ``authProxy`` is on, the web
    UI proxy's config when the web UI is."""
    files = {}
    if args.auth_proxy:
        files[PROXY_CONF] = nginx_conf(f"ollama:{OLLAMA_PORT}", health_path="/api/version", metrics_port=None)
    if args.webui.enabled:
        files[WEBUI_PROXY_CONF] = webui_proxy_conf(f"{WEBUI_ALIAS}:{WEBUI_PORT}")
    return files
