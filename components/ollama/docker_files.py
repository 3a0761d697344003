"""Files the Docker target generates (rendered to ``build/<stack>/files/<name>/`` and gated like every
other generated file): the auth proxy's nginx.conf. Kept apart from :mod:`components.ollama.docker` so the
component can declare them without importing the Docker provider SDK."""

from __future__ import annotations

from components.auth_proxy import nginx_conf
from components.ollama.args import OllamaStackArgs
from components.ollama.constants import OLLAMA_PORT

__all__ = ["PROXY_CONF", "docker_generated_files"]

PROXY_CONF = "nginx.conf"
"""The auth proxy's config, relative to the component's generated files."""


def docker_generated_files(args: OllamaStackArgs) -> dict[str, str]:
    """``{relative path: text}``: the auth proxy's nginx.conf when ``authProxy`` is on (no secret in it)."""
    if not args.auth_proxy:
        return {}
    return {PROXY_CONF: nginx_conf(f"ollama:{OLLAMA_PORT}", health_path="/api/version", metrics_port=None)}
