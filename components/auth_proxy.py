"""API-key authentication in front of a model server (nginx, in the same pod or compose project).

vLLM's ``--api-key`` guards only ``/v1`` routes and Ollama has no auth at all, so
the model server listens on localhost and an nginx sidecar is the only way in:

* ``/healthz`` (proxy) and the engine's health path are open, for probes;
* everything else needs ``Authorization: Bearer <key>``; keys come from a Secret
  mounted as a file (``keys.map``), never from env or the command line;
* an optional metrics listener forwards only the metrics path, for Prometheus; the public
  port answers 404 for it.

The key check is exact. ``keys.map`` is included into an nginx ``map`` from the
``Authorization`` header to a client name; each line is a case-sensitive regex key
anchored at both ends, the key quoted literally between ``\\Q`` and ``\\E``
(``"~^Bearer \\Q<key>\\E$" "<client>";``), because plain string keys in an nginx map
compare case-insensitively. Several keys are several lines, each
naming its client (:func:`key_map_line`); the upstream never sees the header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ContainerArgs, ContainerPortArgs, VolumeArgs, VolumeMountArgs

from components.context import StackContext
from components.gateway.constants import EXPORTER_PORT, PROMETHEUS_POD_LABELS, SYSLOG_ADDRESS
from components.gateway.exporter import exporter_container
from components.gateway.named_clients import KEYS_FILE_NAME, keys_file_text, proxy_files
from components.gateway.proxy import EXPORTER_PY
from components.hardening import (
    container_security_context,
    http_probe,
    ingress_from_pods,
    resources,
    scratch_volume,
    secret_file_volume,
)
from components.templating import render_template
from components.versions import image

__all__ = [
    "PROXY_PORT",
    "PROXY_PORT_NAME",
    "METRICS_PORT",
    "METRICS_PORT_NAME",
    "KEYS_FILE",
    "DEFAULT_CLIENT",
    "SECRET_FORMAT_LABEL",
    "API_CLIENTS_LABEL",
    "AuthProxy",
    "nginx_conf",
    "key_map_line",
    "keys_map",
    "auth_proxy_sidecar",
    "named_clients_sidecar",
    "NAMED_CONF_DIR",
    "NAMED_KEYS_DIR",
    "NAMED_UPSTREAM_DIR",
    "NAMED_TITLE",
    "CLIENT_METRICS_PORT",
    "CLIENT_METRICS_PORT_NAME",
    "prometheus_ingress",
]

PROXY_PORT, PROXY_PORT_NAME = 8080, "http-auth"
METRICS_PORT, METRICS_PORT_NAME = 9090, "metrics"
KEYS_DIR = "/etc/auth-proxy"
KEYS_FILE = f"{KEYS_DIR}/keys.map"
SECRET_FORMAT_LABEL = "slm-deploy.io/secret-format"
"""Docker label declaring the format of a container's secret files (read by the compose export's
secrets README, slm_deploy/render.py, which defines the formats): ``<target path>=<format>``."""
NAMED_CONF_DIR = KEYS_DIR
"""With named clients: nginx.conf and gateway.js (public, a ConfigMap or generated files)."""
NAMED_KEYS_DIR = f"{KEYS_DIR}/keys"
"""With named clients on Kubernetes: the keys Secret, mounted as a directory (Docker: ``NAMED_CONF_DIR``)."""
NAMED_UPSTREAM_DIR = f"{KEYS_DIR}/upstream"
"""With named clients on Kubernetes, in front of a server that authenticates itself (the ONNX edge server): the
server's own key Secret item, mounted as a directory (the proxy presents it upstream, never the client's key)."""
NAMED_TITLE = "Auth proxy with named clients: per-client keys, model allow-lists and limits, in front of one model server."
CLIENT_METRICS_PORT, CLIENT_METRICS_PORT_NAME = EXPORTER_PORT, "client-metrics"
"""With named clients on Kubernetes: the gateway's per-client metrics exporter beside nginx (``slm_gateway_*`` by
client name, fed by nginx's JSON access log over UDP on loopback), for Prometheus."""
API_CLIENTS_LABEL = "slm-deploy.io/api-clients"
"""Docker label of a named-client proxy: its client names, comma-separated (the compose export's secrets
README creates one key per name; slm_deploy/render.py)."""
DEFAULT_CLIENT = "default"
"""Client name of the stack's single API key in ``$api_client`` (and the proxy's access log)."""
_KEY_FORBIDDEN = frozenset("\"'\\;")
_CLIENT_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,62})$")


def nginx_conf(
    upstream: str,
    *,
    listen_port: int = PROXY_PORT,
    health_path: str = "/health",
    metrics_port: int | None = METRICS_PORT,
    metrics_path: str = "/metrics",
    read_timeout_seconds: int = 600,
    max_body: str = "16m",
) -> str:
    """The proxy's nginx.conf (no secrets in it: keys are included from :data:`KEYS_FILE`)."""
    return render_template(
        "auth-proxy-nginx.conf.j2",
        upstream=upstream,
        listen_port=listen_port,
        health_path=health_path,
        metrics_port=metrics_port,
        metrics_path=metrics_path,
        read_timeout=read_timeout_seconds,
        max_body=max_body,
        keys_file=KEYS_FILE,
    )


def key_map_line(key: str, client: str = DEFAULT_CLIENT) -> str:
    """One ``keys.map`` line: requests carrying exactly ``Authorization: Bearer <key>`` map to ``client``.

    PCRE's ``\\Q...\\E`` makes every character of the key literal (a key cannot contain ``\\E``: backslashes
    are refused), so it matches only itself, case included; ``^...$`` makes it the whole header value,
    not a prefix or a part. The key stays verbatim in the line, so the offline synth still recognises
    its secret marker and never inlines it.
    """
    if not key or any(not ("!" <= c <= "~") or c in _KEY_FORBIDDEN for c in key):
        raise ValueError("API keys must be non-empty printable ASCII without whitespace, quotes, backslashes or ';'")
    if not _CLIENT_NAME.match(client):
        raise ValueError(f"client name {client!r}: lowercase letters, digits, '_' and '-' (at most 63)")
    return f'"~^Bearer \\Q{key}\\E$" "{client}";\n'


def keys_map(api_key: pulumi.Input[str]) -> pulumi.Output[str]:
    """The nginx map include accepting ``api_key`` (client :data:`DEFAULT_CLIENT`); stays a secret output."""
    return pulumi.Output.secret(api_key).apply(key_map_line)


@dataclass(frozen=True)
class AuthProxy:
    """What a workload adds to its pod to sit behind the proxy."""

    container: ContainerArgs
    volumes: list[VolumeArgs]
    keys_secret: k8s.core.v1.Secret
    config_map: k8s.core.v1.ConfigMap
    extra_containers: tuple[ContainerArgs, ...] = ()
    """Beside the proxy in the pod: the per-client metrics exporter (named clients)."""


def auth_proxy_sidecar(
    name: str,
    *,
    namespace: str,
    labels: dict[str, str],
    upstream_port: int,
    api_key: pulumi.Input[str],
    health_path: str = "/health",
    metrics_path: str | None = "/metrics",
    read_timeout_seconds: int = 600,
    opts: pulumi.ResourceOptions,
) -> AuthProxy:
    """Create the proxy's ConfigMap and keys Secret; return the sidecar container and its volumes."""
    conf = nginx_conf(
        f"127.0.0.1:{upstream_port}",
        health_path=health_path,
        metrics_port=METRICS_PORT if metrics_path else None,
        metrics_path=metrics_path or "/metrics",
        read_timeout_seconds=read_timeout_seconds,
    )
    config_map, keys_secret = _config_and_keys(name, namespace, labels, files={"nginx.conf": conf},
                                               keys={"keys.map": keys_map(api_key)}, opts=opts)
    keys_volume, keys_mount = secret_file_volume("auth-proxy-keys", f"{name}-auth-proxy-keys", KEYS_DIR)
    conf = {"nginx.conf": "/etc/nginx/nginx.conf"}
    return AuthProxy(_container(name, conf, keys_mount, metrics=bool(metrics_path)), _volumes(name, keys_volume),
                     keys_secret, config_map)


def named_clients_sidecar(
    name: str,
    *,
    namespace: str,
    labels: dict[str, str],
    upstream_port: int,
    clients: list,
    models: list[str],
    client_keys: dict[str, pulumi.Output[list[str]]],
    upstream_key: tuple[str, str] | None = None,
    open_paths: tuple[str, ...] = (),
    title: str = NAMED_TITLE,
    metrics: bool = True,
    opts: pulumi.ResourceOptions,
) -> AuthProxy:
    """The proxy with named clients (:mod:`components.gateway.named_clients`, the model gateway's nginx config and
    gateway.js) in front of ``127.0.0.1:<upstream_port>``: ``<name>-auth-proxy`` holds nginx.conf and gateway.js,
    ``<name>-auth-proxy-keys`` the keys file (``<client> <sha256>`` per key), mounted as a directory (no subPath)
    so a rotated Secret reaches the proxy without a restart. ``clients``: GatewayClient entries.
    ``upstream_key``: (Secret, item) of the key of a server that authenticates itself, mounted at
    :data:`NAMED_UPSTREAM_DIR` and presented upstream; ``open_paths``: the server's health paths, passed through.
    ``metrics`` (default on): the gateway's exporter as a second container (``auth-proxy-metrics``, port
    :data:`CLIENT_METRICS_PORT_NAME`), fed by nginx's access log over UDP on loopback."""
    upstream_file = f"{NAMED_UPSTREAM_DIR}/{upstream_key[1]}" if upstream_key else None
    files = proxy_files(clients, models, upstream=f"127.0.0.1:{upstream_port}", conf_dir=NAMED_CONF_DIR,
                        keys_dir=NAMED_KEYS_DIR, listen=PROXY_PORT, title=title, upstream_key_file=upstream_file,
                        open_paths=open_paths, metrics_syslog=SYSLOG_ADDRESS if metrics else None)
    exporter = {"metrics_exporter.py": EXPORTER_PY.read_text()} if metrics else {}
    all_keys = pulumi.Output.all(**client_keys)
    config_map, keys_secret = _config_and_keys(
        name, namespace, labels, files={**files, **exporter},
        keys={KEYS_FILE_NAME: pulumi.Output.secret(all_keys.apply(keys_file_text))}, opts=opts)
    keys_volume, keys_mount = secret_file_volume("auth-proxy-keys", f"{name}-auth-proxy-keys", NAMED_KEYS_DIR)
    mounts = {file: f"{NAMED_CONF_DIR}/{file}" for file in files}
    volumes, extra_mounts = _volumes(name, keys_volume), []
    if upstream_key:
        volume, mount = secret_file_volume("auth-proxy-upstream-key", upstream_key[0], NAMED_UPSTREAM_DIR,
                                           items={upstream_key[1]: upstream_key[1]})
        volumes.append(volume)
        extra_mounts.append(mount)
    return AuthProxy(_container(name, mounts, keys_mount, metrics=False, conf_path=mounts["nginx.conf"],
                                extra_mounts=extra_mounts), volumes, keys_secret, config_map,
                     (_exporter(),) if metrics else ())


def _config_and_keys(name: str, namespace: str, labels: dict[str, str], *, files: dict[str, str],
                     keys: dict[str, pulumi.Input[str]],
                     opts: pulumi.ResourceOptions) -> tuple[k8s.core.v1.ConfigMap, k8s.core.v1.Secret]:
    """The proxy's two objects: ConfigMap ``<name>-auth-proxy`` holding ``files`` (nginx.conf, ...) and Secret
    ``<name>-auth-proxy-keys`` holding ``keys``."""
    config_map = k8s.core.v1.ConfigMap(
        f"{name}-auth-proxy",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-auth-proxy", namespace=namespace, labels=labels),
        data=files,
        opts=opts,
    )
    keys_secret = k8s.core.v1.Secret(
        f"{name}-auth-proxy-keys",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-auth-proxy-keys", namespace=namespace, labels=labels),
        type="Opaque",
        string_data=keys,
        opts=opts,
    )
    return config_map, keys_secret


def _exporter() -> ContainerArgs:
    """The gateway's per-client metrics exporter (Python standard library, the pinned python-slim image), its
    script from the proxy's ConfigMap."""
    return exporter_container(
        "auth-proxy-metrics",
        VolumeMountArgs(name="auth-proxy-conf", mount_path=f"{NAMED_CONF_DIR}/metrics_exporter.py",
                        sub_path="metrics_exporter.py", read_only=True),
        CLIENT_METRICS_PORT, CLIENT_METRICS_PORT_NAME)


def prometheus_ingress(ctx: StackContext):
    """The NetworkPolicy ingress rule admitting the stack's Prometheus (as the gateway's) to the per-client
    metrics exporter's port, and nothing else."""
    scraper = ctx.prometheus
    return ingress_from_pods([PROMETHEUS_POD_LABELS], [CLIENT_METRICS_PORT_NAME],
                             namespace_labels=scraper.namespace_labels if scraper else None)


def _volumes(name: str, keys_volume: VolumeArgs) -> list[VolumeArgs]:
    conf_volume = VolumeArgs(name="auth-proxy-conf", config_map={"name": f"{name}-auth-proxy", "default_mode": 0o444})
    tmp_volume, _ = scratch_volume("auth-proxy-tmp", "/tmp", size_limit="256Mi")
    return [conf_volume, keys_volume, tmp_volume]


def _container(name: str, conf_files: dict[str, str], keys_mount: VolumeMountArgs, *, metrics: bool,
               conf_path: str = "/etc/nginx/nginx.conf", extra_mounts: list[VolumeMountArgs] | None = None) -> ContainerArgs:
    """The nginx sidecar: ``conf_files`` (ConfigMap key -> path, each by subPath), the keys Secret, /tmp."""
    _, tmp_mount = scratch_volume("auth-proxy-tmp", "/tmp", size_limit="256Mi")
    ports = [ContainerPortArgs(name=PROXY_PORT_NAME, container_port=PROXY_PORT, protocol="TCP")]
    if metrics:
        ports.append(ContainerPortArgs(name=METRICS_PORT_NAME, container_port=METRICS_PORT, protocol="TCP"))
    return ContainerArgs(
        name="auth-proxy",
        image=image("nginx-unprivileged").ref,
        image_pull_policy="IfNotPresent",
        command=["nginx"],
        args=["-c", conf_path, "-g", "daemon off;"],
        ports=ports,
        volume_mounts=[
            *(VolumeMountArgs(name="auth-proxy-conf", mount_path=path, sub_path=key, read_only=True)
              for key, path in conf_files.items()),
            keys_mount,
            *(extra_mounts or []),
            tmp_mount,
        ],
        resources=resources("100m", "64Mi", cpu_limit="500m", memory_limit="128Mi"),
        security_context=container_security_context(),
        liveness_probe=http_probe("/healthz", PROXY_PORT_NAME, period_seconds=10),
        readiness_probe=http_probe("/healthz", PROXY_PORT_NAME, period_seconds=5),
    )
