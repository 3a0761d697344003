"""The nginx entry proxy as a Docker container (pulumi-docker): one hardened container per proxy, shared by the
Docker targets that put nginx in front of a server (Ollama's auth proxy and web UI proxy, the ONNX edge node's
named-client proxy).

Docker refuses to copy files into a read-only root filesystem, so the config (a rendered, gated generated
file, uploaded by source path) and the secret files (uploaded by content) go into a small named volume
mounted at :data:`components.auth_proxy.KEYS_DIR`, attached to this container alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.auth_proxy import API_CLIENTS_LABEL, KEYS_DIR, NAMED_CONF_DIR, SECRET_FORMAT_LABEL
from components.gateway.named_clients import KEYS_FILE_NAME, KEYS_FORMAT, keys_file_text
from components.hardening import docker_container_hardening
from components.versions import image

__all__ = ["PROXY_MEMORY_MB", "SecretFile", "nginx_container", "named_client_keys"]

PROXY_MEMORY_MB = 128
"""Memory limit of each nginx entry proxy."""

SecretFile = tuple[str, pulumi.Input[str], str]
"""(container path, secret content, secret format for the compose export's secrets README)."""


def named_client_keys(client_keys: dict[str, pulumi.Output[list[str]]]) -> tuple[SecretFile, list[docker.ContainerLabelArgs]]:
    """The named-client proxy's keys file (``<client> <sha256>`` per key, a secret upload beside nginx.conf) and
    the label naming its clients (the secrets README's recipe creates one key per name; never a key)."""
    content = pulumi.Output.secret(pulumi.Output.all(**client_keys).apply(keys_file_text))
    return ((f"{NAMED_CONF_DIR}/{KEYS_FILE_NAME}", content, KEYS_FORMAT),
            [docker.ContainerLabelArgs(label=API_CLIENTS_LABEL, value=",".join(client_keys))])


def nginx_container(name: str, *, edge_name: str, conf: Path, conf_text: str, secrets: list[SecretFile],
                    port: tuple[int, int], publish_address: str, networks: list, labels: list[docker.ContainerLabelArgs],
                    depends_on: list, opts: pulumi.ResourceOptions,
                    extra_files: dict[str, tuple[Path, str]] | None = None) -> docker.Container:
    """One hardened nginx entry proxy: the config (a rendered, gated generated file; ``extra_files`` = container
    path relative to the config volume -> (generated file, its text), such as the named-client proxy's gateway.js)
    and ``secrets`` uploaded into a volume of its own; ``port`` (inside, on the host) published on
    ``publish_address``; the internal ``networks`` it forwards into plus an edge bridge of its own."""
    edge = docker.Network(edge_name, name=edge_name, driver="bridge", opts=opts)
    conf_volume = docker.Volume(f"{name}-conf", name=f"{name}-conf", opts=opts)
    proxy_image = docker.RemoteImage(f"{name}-image", name=image("nginx-unprivileged").ref, keep_locally=True, opts=opts)
    uploads = [
        # The config from the rendered, gated files/<name>/ (by source, not content: the upload list also carries
        # secrets, and a secret input is redacted whole offline).
        docker.ContainerUploadArgs(file=f"{KEYS_DIR}/nginx.conf", source=str(conf),
                                   source_hash=hashlib.sha256(conf_text.encode()).hexdigest(), permissions="0444"),
        *(docker.ContainerUploadArgs(file=f"{KEYS_DIR}/{path}", source=str(source),
                                     source_hash=hashlib.sha256(text.encode()).hexdigest(), permissions="0444")
          for path, (source, text) in (extra_files or {}).items()),
    ]
    labels = list(labels)
    formats = []
    for path, content, fmt in secrets:
        # Uploads are owned by root and Docker has no owner option: the file must be readable by the proxy's
        # non-root user, and the volume is attached to this container alone.
        uploads.append(docker.ContainerUploadArgs(file=path, content=content, permissions="0444"))
        formats.append(f"{path}={fmt}")
    if formats:  # the compose export's secrets/README.md tells users how to create each file from its format
        labels.append(docker.ContainerLabelArgs(label=SECRET_FORMAT_LABEL, value=",".join(formats)))
    inside, published = port
    return docker.Container(
        name,
        name=name,
        image=proxy_image.image_id,
        command=["nginx", "-c", f"{KEYS_DIR}/nginx.conf", "-g", "daemon off;"],
        ports=[docker.ContainerPortArgs(internal=inside, external=published, ip=publish_address)],
        volumes=[docker.ContainerVolumeArgs(volume_name=conf_volume.name, container_path=KEYS_DIR)],
        uploads=uploads,
        tmpfs={"/tmp": "rw,noexec,nosuid,nodev,size=64m"},
        networks_advanced=[*(docker.ContainerNetworksAdvancedArgs(name=n.name) for n in networks),
                           docker.ContainerNetworksAdvancedArgs(name=edge.name)],
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=["CMD-SHELL", f"wget -q -O /dev/null http://127.0.0.1:{inside}/healthz || exit 1"],
            interval="10s", timeout="3s", retries=3, start_period="5s"),
        memory=PROXY_MEMORY_MB,
        memory_swap=PROXY_MEMORY_MB,
        user="10001:10001",  # nginx.conf keeps pid and temp files in /tmp (tmpfs), so any uid works
        restart="unless-stopped",
        labels=labels,
        **docker_container_hardening(),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends_on)),
    )
