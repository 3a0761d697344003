"""The ONNX edge node's named-client proxy (``apiClients``): the model gateway's nginx config and gateway.js
(:mod:`components.gateway.named_clients`) in front of the edge server, on both targets.

The edge server authenticates every request itself (its key file, the stack's ``apiKey``), so the proxy presents
the server's own key upstream (``gateway.js`` ``upstreamAuth``, read per request from a secret file) and never the
client's; ``/health`` and ``/ready`` pass through unauthenticated, as the server serves them, for probes.

Kept apart from the target modules so the component can declare the Docker proxy's generated files without
importing a provider SDK.
"""

from __future__ import annotations

from components.auth_proxy import NAMED_CONF_DIR
from components.gateway.named_clients import proxy_files
from components.onnx_edge.args import OnnxEdgeNodeArgs
from components.onnx_edge.constants import SERVER_PORT

__all__ = ["PROXY_FILES_DIR", "SERVER_ALIAS", "UPSTREAM_KEY_FILE", "OPEN_PATHS", "TITLE", "docker_proxy_files",
           "proxy_generated_files"]

PROXY_FILES_DIR = "auth-proxy"
"""Docker: the proxy's files under the node's generated files (``files/<node>/auth-proxy/``), apart from the
image build context."""
SERVER_ALIAS = "model-server"
"""Docker: the server's name on the node's internal network (what the proxy forwards to)."""
UPSTREAM_KEY_FILE = f"{NAMED_CONF_DIR}/upstream.key"
"""Docker: the server's key, a secret upload beside the proxy's config (the same value as the server's key file)."""
OPEN_PATHS = ("/health", "/ready")
"""The edge server's unauthenticated routes (components/onnx_edge/server/server.py), passed through for probes."""
TITLE = "ONNX edge proxy with named clients: per-client keys, model allow-lists and limits, in front of the edge server."


def docker_proxy_files(args: OnnxEdgeNodeArgs) -> dict[str, str]:
    """``nginx.conf`` and ``gateway.js`` of the Docker proxy (read from its config volume); empty without
    ``apiClients``."""
    if not args.api_clients:
        return {}
    return proxy_files(args.proxy_clients(), [args.model], upstream=f"{SERVER_ALIAS}:{SERVER_PORT}",
                       conf_dir=NAMED_CONF_DIR, title=TITLE, upstream_key_file=UPSTREAM_KEY_FILE, open_paths=OPEN_PATHS)


def proxy_generated_files(args: OnnxEdgeNodeArgs) -> dict[str, str]:
    """The Docker proxy's files as generated files of the node (rendered, gated, uploaded by source); the
    Kubernetes proxy's live in a ConfigMap (:func:`components.auth_proxy.named_clients_sidecar`)."""
    if args.target != "docker":
        return {}
    return {f"{PROXY_FILES_DIR}/{name}": text for name, text in docker_proxy_files(args).items()}
