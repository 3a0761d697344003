"""Docker target of OnnxEdgeNode: one edge box through pulumi-docker (``docker.host: ssh://user@box``).

The image is built on the box's daemon from the generated build context (see
:func:`components.onnx_edge.args.image_context_files`); a one-shot container downloads the pinned
ONNX variant into a named volume, and the server container starts after it exited successfully.

With ``apiClients`` the server publishes nothing: it joins ``<name>-internal`` (internal: no route out, not
reachable from the host) as ``model-server``, and the named-client proxy (:mod:`components.auth_proxy_docker`,
the same container as Ollama's auth proxy) is the only member besides it, publishing ``port`` from an edge bridge
of its own. The proxy holds the clients' key hashes and the server's own key (``upstream.key``, which it presents
upstream); the compose export names both secret files (``secrets/README.md``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.auth_proxy_docker import named_client_keys, nginx_container
from components.catalog import get_cpu_tier
from components.hardening import DEFAULT_UID, docker_container_hardening, docker_run_once
from components.onnx_edge.args import OnnxEdgeNodeArgs
from components.onnx_edge.constants import (
    API_KEY_FILE,
    HF_TOKEN_DIR,
    HF_TOKEN_FILE,
    MODELS_DIR,
    SECRETS_DIR,
    SERVER_PORT,
    START_BUDGET_SECONDS,
)
from components.onnx_edge.proxy import PROXY_FILES_DIR, SERVER_ALIAS, UPSTREAM_KEY_FILE, docker_proxy_files
from components.sizing import MemoryPlan

__all__ = ["DockerNode", "docker_node"]


@dataclass(frozen=True)
class DockerNode:
    endpoint: pulumi.Output[str]
    containers: dict[str, docker.Container]


def _ready_check(path: str = "/ready") -> list[str]:
    code = ("import sys, urllib.request; "
            f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{SERVER_PORT}{path}', timeout=4).status == 200 else 1)")
    return ["CMD", "python", "-c", code]



def docker_node(args: OnnxEdgeNodeArgs, *, labels: dict[str, str], plan: MemoryPlan, context_dir: Path | None,
                files: dict[str, str], api_key: pulumi.Input[str], hf_token: pulumi.Input[str] | None,
                child: pulumi.ResourceOptions, client_keys: dict[str, pulumi.Output[list[str]]] | None = None,
                files_dir: Path | None = None) -> DockerNode:
    """Create the node's Docker children (image build, network, volumes, download step, server, and with
    ``client_keys`` the named-client proxy, whose config it uploads from ``files_dir``, the node's rendered files)."""
    uid = f"{DEFAULT_UID}:{DEFAULT_UID}"
    container_labels = [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]
    if context_dir is not None:
        digest = hashlib.sha256("".join(f"{k}\0{v}\0" for k, v in sorted(files.items())).encode()).hexdigest()
        image = docker.Image(
            f"{args.name}-image",
            image_name=f"slm-onnx-edge/{args.name}:{digest[:16]}",
            build=docker.DockerBuildArgs(context=str(context_dir), dockerfile=str(context_dir / "Dockerfile"),
                                         platform=args.platform),
            skip_push=True,
            opts=child,
        )
        # The tag is the sha256 of the build context (base image pinned by digest, hash-locked
        # wheels, server code): a changed input is a new tag, an unchanged one reuses the build.
        # (image.repo_digest, the local image id, is unknown until the build ran, so the offline
        # synth and the gate could not see the containers' image.)
        image_ref: pulumi.Input[str] = image.image_name
    else:
        image_ref = args.image  # type: ignore[assignment]

    network = docker.Network(
        f"{args.name}-net", name=f"{args.name}-net", driver="bridge",
        # Not internal: the download needs egress and the server a published port.
        # Containers on it cannot talk to each other (no inter-container traffic).
        options={"com.docker.network.bridge.enable_icc": "false"},
        labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
        opts=child,
    )
    models = docker.Volume(f"{args.name}-models", name=f"{args.name}-models",
                           labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
                           opts=child)
    # Secrets go into volumes: Docker refuses uploads into a read-only root filesystem except into
    # volumes. One volume per reader: the server's holds only the API key (mode 0400, owned by the
    # server user); the HF token has a volume of its own that only the download step mounts, so the
    # long-running server can never read it (as on Kubernetes, where only the download container
    # mounts the token).
    volume_labels = [docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]
    keys = docker.Volume(f"{args.name}-secrets", name=f"{args.name}-secrets", labels=volume_labels, opts=child)
    hardening = dict(
        **docker_container_hardening(user=uid),
        network_mode="bridge",
        labels=container_labels,
        log_driver="json-file",
        log_opts={"max-size": "10m", "max-file": "3"},
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
    )
    download_uploads = []
    download_env = [f"HF_HOME={MODELS_DIR}/.cache/huggingface", "HF_HUB_DISABLE_TELEMETRY=1"]
    download_volumes = [docker.ContainerVolumeArgs(volume_name=models.name, container_path=MODELS_DIR)]
    if hf_token is not None:
        download_uploads.append(docker.ContainerUploadArgs(file=HF_TOKEN_FILE, content=pulumi.Output.secret(hf_token),
                                                           owner=str(DEFAULT_UID), group=str(DEFAULT_UID), permissions="0400"))
        download_env.append(f"HF_TOKEN_PATH={HF_TOKEN_FILE}")
        token = docker.Volume(f"{args.name}-hf-token", name=f"{args.name}-hf-token", labels=volume_labels, opts=child)
        download_volumes.append(docker.ContainerVolumeArgs(volume_name=token.name, container_path=HF_TOKEN_DIR))
    argv = args.download_argv()
    download = docker.Container(
        f"{args.name}-model-download",
        name=f"{args.name}-model-download",
        image=image_ref,
        entrypoints=argv[:1],
        command=argv[1:],
        envs=download_env,
        volumes=download_volumes,
        uploads=download_uploads or None,
        tmpfs={"/tmp": "rw,noexec,nosuid,nodev,size=512m"},
        **docker_run_once(),  # Pulumi waits for the download to exit before creating the server
        **hardening,
        opts=child,
    )
    memory_mib = min(plan.memory_limit_bytes, get_cpu_tier(args.hardware_tier).allocatable_bytes) // (1024 * 1024)
    ports = [docker.ContainerPortArgs(internal=SERVER_PORT, external=args.port, ip=args.publish_address, protocol="tcp")]
    server_hardening = hardening
    if client_keys:  # behind the proxy: on the internal network only (as Ollama behind its proxy), nothing published
        internal = docker.Network(f"{args.name}-internal", name=f"{args.name}-internal", internal=True, driver="bridge",
                                  labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
                                  opts=child)
        ports = []
        server_hardening = {**{k: v for k, v in hardening.items() if k not in ("network_mode", "networks_advanced")},
                            "networks_advanced": [docker.ContainerNetworksAdvancedArgs(name=internal.name,
                                                                                       aliases=[SERVER_ALIAS])]}
    server = docker.Container(
        args.name,
        name=args.name,
        image=image_ref,
        envs=[f"{k}={v}" for k, v in args.server_env().items()],
        ports=ports,
        volumes=[
            docker.ContainerVolumeArgs(volume_name=models.name, container_path=MODELS_DIR, read_only=True),
            docker.ContainerVolumeArgs(volume_name=keys.name, container_path=SECRETS_DIR),
        ],
        uploads=[docker.ContainerUploadArgs(file=API_KEY_FILE, content=pulumi.Output.secret(api_key),
                                            owner=str(DEFAULT_UID), group=str(DEFAULT_UID), permissions="0400")],
        tmpfs={"/tmp": "rw,noexec,nosuid,nodev,size=64m"},
        memory=memory_mib,
        memory_swap=memory_mib,  # no swap: a swapping edge box is slower than a clear OOM
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=_ready_check(), interval="30s", timeout="5s", retries=3,
            start_period=f"{START_BUDGET_SECONDS}s", start_interval="5s",
        ),
        restart="unless-stopped",
        **server_hardening,
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[download])),
    )
    containers = {"server": server, "download": download}
    if client_keys:
        containers["proxy"] = _proxy(args, labels, api_key, client_keys, internal, server, files_dir, child)
    host = "127.0.0.1" if args.publish_address in ("0.0.0.0", "::") else args.publish_address  # noqa: S104
    return DockerNode(pulumi.Output.from_input(f"http://{host}:{args.port}/v1"), containers)


def _proxy(args: OnnxEdgeNodeArgs, labels: dict[str, str], api_key: pulumi.Input[str],
           client_keys: dict[str, pulumi.Output[list[str]]], internal: docker.Network, server: docker.Container,
           files_dir: Path | None, child: pulumi.ResourceOptions) -> docker.Container:
    """The named-client proxy: the node's ``port`` on ``publishAddress``, forwarding to the server over the internal
    network with the server's own key (a secret file holding the same value as the server's)."""
    assert files_dir is not None, "the named-client proxy uploads its config from the node's rendered files"
    files = docker_proxy_files(args)
    keys, client_labels = named_client_keys(client_keys)
    # The compose export reads the server's key from secrets/<node>-api-key; the proxy's copy must hold the same.
    upstream = (UPSTREAM_KEY_FILE, pulumi.Output.secret(api_key), f"same-as:{args.name}-api-key")
    # slm-deploy.io/role: the stack's entry point (CKV_SLM_036 lets only an entry point publish).
    proxy_labels = {**labels, "app.kubernetes.io/component": "auth-proxy", "slm-deploy.io/role": "auth-proxy"}
    return nginx_container(
        f"{args.name}-auth-proxy", edge_name=f"{args.name}-proxy-edge", conf=files_dir / PROXY_FILES_DIR / "nginx.conf",
        conf_text=files["nginx.conf"], secrets=[keys, upstream], port=(8080, args.port),
        publish_address=args.publish_address, networks=[internal],
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(proxy_labels.items())] + client_labels,
        depends_on=[server], opts=child,
        extra_files={"gateway.js": (files_dir / PROXY_FILES_DIR / "gateway.js", files["gateway.js"])})
