"""Files the Docker target generates (rendered to ``build/<stack>/files/<name>/`` and gated like every
other generated file): the auth proxy's nginx.conf (with ``apiClients``, the model gateway's nginx.conf and
gateway.js, :mod:`components.gateway.named_clients`) and the web UI proxy's webui-nginx.conf. Kept apart from
:mod:`components.ollama.docker` so the
component can declare them without importing the Docker provider SDK."""

from __future__ import annotations

from components.auth_proxy import NAMED_CONF_DIR, NAMED_TITLE, nginx_conf
from components.gateway.named_clients import proxy_files
from components.ollama.args import OllamaStackArgs
from components.ollama.constants import OLLAMA_PORT
from components.ollama.webui import WEBUI_PORT
from components.ollama.webui_proxy import WEBUI_PROXY_CONF, webui_proxy_conf

__all__ = ["PROXY_CONF", "WEBUI_PROXY_CONF", "WEBUI_ALIAS", "docker_generated_files", "auth_proxy_files"]

PROXY_CONF = "nginx.conf"
"""The auth proxy's config, relative to the component's generated files."""
WEBUI_ALIAS = "open-webui"
"""Open WebUI's name on the internal networks (what the web UI proxy forwards to)."""


def docker_generated_files(args: OllamaStackArgs) -> dict[str, str]:
    """``{relative path: text}`` (no secret in any): the auth proxy's files (:func:`auth_proxy_files`) when
    ``authProxy`` is on, the web UI proxy's config when the web UI is."""
    files = auth_proxy_files(args)
    if args.webui.enabled:
        files[WEBUI_PROXY_CONF] = webui_proxy_conf(f"{WEBUI_ALIAS}:{WEBUI_PORT}")
    return files


def auth_proxy_files(args: OllamaStackArgs) -> dict[str, str]:
    """The auth proxy's nginx.conf (and gateway.js with ``apiClients``), uploaded into its config volume."""
    if not args.auth_proxy:
        return {}
    if args.api_clients:  # one volume on Docker: config, gateway.js and the keys file side by side
        return proxy_files(args.proxy_clients("docker"), args.served_models(), upstream=f"ollama:{OLLAMA_PORT}",
                           conf_dir=NAMED_CONF_DIR, title=NAMED_TITLE)
    return {PROXY_CONF: nginx_conf(f"ollama:{OLLAMA_PORT}", health_path="/api/version", metrics_port=None)}
