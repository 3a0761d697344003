"""Named API clients with their own keys and limits: one story on every target (shared beyond the gateway).

The model gateway (Kubernetes, components/gateway), the Ollama auth proxy (Docker and Kubernetes) and the
ONNX edge proxy take the same client shape (:class:`~components.gateway.args.GatewayClient`: name, models,
requests per minute, requests in flight, burst), the same keys (set per client with
``pulumi config set --secret --path 'clientKeys.<client>'``, else generated; stored as a secret file of
SHA-256 hashes, compared exactly) and the same nginx configuration (:func:`components.gateway.proxy.gateway_nginx_conf`
with ``gateway.js``), in front of a different upstream. This module is the glue they share; nothing here
is target-specific.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_random

from components.gateway.args import GatewayClient
from components.gateway.constants import VERIFY_CLIENT
from components.gateway.keys import configured_keys_or_none
from components.gateway.proxy import GATEWAY_JS, ProxyClient, gateway_nginx_conf, keys_file_text

__all__ = [
    "KEYS_FILE_NAME",
    "KEYS_FORMAT",
    "client_problems",
    "single_proxy_clients",
    "proxy_clients",
    "client_keys",
    "proxy_files",
    "keys_file_text",
]

KEYS_FILE_NAME = "clients.keys"
"""The proxy's keys file (a secret file): ``<client> <sha256 hex of a key>`` per accepted key."""
KEYS_FORMAT = "client-key-hashes"
"""Its format name for the compose export's secrets README (slm_deploy/render.py ``SECRET_FORMATS``)."""


def client_problems(clients: Sequence[GatewayClient], served: Sequence[str]) -> list[tuple[tuple[str | int, ...], str]]:
    """Rules over a client list, each located at the offending entry (relative to the list): unique names, the
    reserved name, served models. For :func:`components.validation.located`."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for i, c in enumerate(clients):
        if c.name in seen:
            problems.append(((i, "name"), f"client names must be unique; {c.name} appears more than once"))
        seen.add(c.name)
        if c.name == VERIFY_CLIENT:
            problems.append(((i, "name"), f"{VERIFY_CLIENT} is reserved for the post-deploy smoke Job "
                                          "(docs/lifecycle.md); choose another name"))
        for j, m in enumerate(c.models):
            if m not in served:
                problems.append(((i, "models", j), f"not a model served here; served models: {', '.join(served)}"))
    return problems


def single_proxy_clients(clients: Sequence[GatewayClient], served: Sequence[str], target: str) -> list[GatewayClient]:
    """The named clients of a single proxy (Ollama's auth proxy, the ONNX edge proxy): the stack's ``clients``,
    plus on Kubernetes the post-deploy smoke Job's own client ``slm-verify`` (every served model; 60 requests per
    minute, 2 in flight: it sends two). Empty without clients (the proxy then takes the single apiKey)."""
    if not clients:
        return []
    verify = [GatewayClient(name=VERIFY_CLIENT, models=list(served), rpm=60, concurrency=2)]
    return [*clients, *(verify if target == "kubernetes" else [])]


def proxy_clients(clients: Sequence[GatewayClient], replicas: int = 1) -> list[ProxyClient]:
    """The clients as one nginx instance enforces them: each budget split evenly over ``replicas`` instances."""
    return [ProxyClient(c.name, tuple(c.models), max(1, -(-c.rpm // replicas)), max(1, -(-c.concurrency // replicas)),
                        None if c.burst is None else -(-c.burst // replicas)) for c in clients]


def client_keys(name: str, clients: Sequence[str], configured: pulumi.Input[str] | None,
                opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[list[str]]]:
    """Each client's keys (first = current), secret outputs: the ones set in the ``clientKeys`` secret config
    (JSON text of client -> key or keys), else a generated ``sk-`` key.

    Every client has its generated ``RandomPassword`` (``<name>-key-<client>``), used only when the config names
    no key for it: the set of resources never depends on a secret's contents, so the offline gate (which never
    decrypts) judges the same objects ``pulumi up`` applies. Names the config sets for other components' clients
    are theirs (the stack checks that every name belongs to some proxy)."""
    names = list(clients)
    given = pulumi.Output.secret(pulumi.Output.from_input(configured).apply(
        lambda text: configured_keys_or_none(_own(text, names), names)))
    keys: dict[str, pulumi.Output[list[str]]] = {}
    for client in names:
        generated = pulumi_random.RandomPassword(f"{name}-key-{client}", length=48, special=False, opts=opts)
        keys[client] = pulumi.Output.secret(pulumi.Output.all(given, generated.result).apply(
            lambda pair, n=client: pair[0].get(n) or [f"sk-{pair[1]}"]))
    return keys


def _own(text: str | None, names: list[str]) -> str | None:
    """The JSON text restricted to ``names`` (other entries belong to other proxies of the stack)."""
    if not text or text.startswith("[secret"):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text  # refused (without echoing it) by configured_keys_or_none
    return json.dumps({k: v for k, v in value.items() if k in names}) if isinstance(value, dict) else text


def proxy_files(clients: Sequence[GatewayClient], models: Sequence[str], *, upstream: str, conf_dir: str,
                keys_dir: str | None = None, listen: int = 8080, replicas: int = 1, title: str,
                upstream_key_file: str | None = None, open_paths: tuple[str, ...] = (),
                metrics_syslog: str | None = None) -> dict[str, str]:
    """``{file name: text}`` for a named-client proxy: ``nginx.conf`` (the gateway's, with ``upstream`` in place
    of the router) and ``gateway.js``, both read from ``conf_dir``; the keys file ``<keys_dir>/clients.keys``
    (default ``conf_dir``) is a secret file of its own. No key material in either. ``upstream_key_file``: the
    secret file with the key of an upstream that authenticates itself (the ONNX edge server), which the proxy
    presents in place of the client's key; ``open_paths``: the upstream's unauthenticated health paths, passed
    through for probes; ``metrics_syslog``: where nginx also sends its JSON access log for the per-client metrics
    exporter (host:port; default None: stdout only)."""
    conf = gateway_nginx_conf(proxy_clients(clients, replicas), list(models), router=upstream, listen=listen,
                              keys_file=f"{keys_dir or conf_dir}/{KEYS_FILE_NAME}", js_dir=conf_dir,
                              metrics_syslog=metrics_syslog, title=title, upstream_key_file=upstream_key_file,
                              open_paths=open_paths)
    return {"nginx.conf": conf, "gateway.js": GATEWAY_JS.read_text()}
