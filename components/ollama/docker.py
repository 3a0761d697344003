"""Docker target (pulumi-docker): what the dev stack runs on a laptop or workstation.

Networks (each container gets only the networks it needs):

* ``<name>-internal`` (internal: no route out, nothing publishable, not reachable from the host): the only
  path to Ollama. Members: Ollama (alias ``ollama``), Open WebUI and the auth proxy, nothing else.
* ``<name>-egress`` (bridge, the pull step alone): the pull step downloads from registry.ollama.ai with a
  server of its own (``ollama serve`` on 127.0.0.1 inside the step, into the models volume) and exits before
  Ollama starts, so the serving Ollama needs no route out.
* ``<name>-api-edge`` (bridge, Ollama alone, only without ``authProxy``): Ollama's API published on loopback
  (Docker publishes nothing from an internal network). With ``authProxy`` Ollama is on ``<name>-internal``
  only: nothing but the proxy and the web UI can reach it, not even the host.
* ``<name>-webui-internal`` (internal): Open WebUI (alias ``open-webui``) and its entry proxy, nothing else.
* ``<name>-webui-edge`` (bridge, the web UI proxy alone): the published UI port. Open WebUI itself publishes
  nothing and joins internal networks only: the host and the LAN reach it through this proxy alone
  (:mod:`components.ollama.webui_proxy`: WebSocket upgrades and streaming pass, its own login authenticates).
* ``<name>-proxy-edge`` (bridge, the auth proxy alone, only with ``authProxy``): the published API port.

No two containers share a non-internal network, so Open WebUI and the auth proxy reach Ollama only over
``<name>-internal``, and the web UI proxy reaches Open WebUI only over ``<name>-webui-internal`` (never Ollama:
Docker's DNS answers a container name only on the networks both containers are on).

Hardening: read-only root, ``cap_drop: ALL``, ``no-new-privileges``, memory limits from sizing, no host
network, not privileged, tmpfs where the process writes scratch files. Docker refuses to copy files into a
read-only root filesystem, so generated files (Modelfiles, the Open WebUI key, the proxy config) are uploaded
into small named volumes mounted where the process reads them.

Ordering: the one-shot pull step runs first, attached (``attach``: its create step ends only when the
container has exited), and a non-zero exit fails the deployment (its ``exit_code`` is checked). Ollama
``depends_on`` it (compose: ``condition: service_completed_successfully``) and Pulumi waits for Ollama to be
healthy (``wait``); Open WebUI ``depends_on`` both, so ``docker compose up`` starts neither after a failed pull.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.auth_proxy import KEYS_DIR, keys_map
from components.auth_proxy_docker import named_client_keys, nginx_container
from components.context import StackContext
from components.hardening import docker_container_hardening, docker_run_once
from components.ollama.args import OllamaStackArgs
from components.ollama.constants import OLLAMA_PORT
from components.ollama.docker_files import PROXY_CONF, WEBUI_ALIAS, WEBUI_PROXY_CONF, auth_proxy_files, docker_generated_files
from components.ollama.monitoring import monitoring_for
from components.ollama.outputs import TargetOutputs
from components.ollama.webui import WEBUI_DATA_DIR, WEBUI_KEY_FILE, WEBUI_PORT, WEBUI_SECRET_DIR, webui_environment
from components.ollama.webui_proxy import WEBUI_PROXY_PORT
from components.versions import image

__all__ = ["build_docker", "OLLAMA_HOME", "MODELFILE_DIR"]

OLLAMA_HOME = "/var/lib/ollama"
MODELFILE_DIR = "/modelfiles"


def _labels(role: str, part_of: str) -> list[docker.ContainerLabelArgs]:
    values = {"slm-deploy.io/role": role, "app.kubernetes.io/part-of": part_of, "app.kubernetes.io/managed-by": "slm-deploy"}
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in values.items()]


def _env(values: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in values.items()]


def _fail_on_exit(code: int | None, name: str) -> int | None:
    if code not in (None, 0):
        raise pulumi.RunError(f"{name} exited with status {code}: a model pull or `ollama create` failed (see its logs)")
    return code


def build_docker(name: str, args: OllamaStackArgs, ctx: StackContext, *, webui_secret_key, api_key,
                 files_dir: Path, opts: pulumi.ResourceOptions, client_keys=None) -> TargetOutputs:
    """Create the Docker resources of an OllamaStack as children of ``opts.parent``."""
    part_of = ctx.part_of
    mem = args.memory()
    ollama_ref = image("ollama")

    internal = docker.Network(f"{name}-internal", name=f"{name}-internal", internal=True, driver="bridge", opts=opts)
    egress = docker.Network(f"{name}-egress", name=f"{name}-egress", driver="bridge", opts=opts)
    server_networks = [docker.ContainerNetworksAdvancedArgs(name=internal.name, aliases=["ollama"])]
    models_volume = docker.Volume(f"{name}-models", name=f"{name}-models", opts=opts)
    modelfiles_volume = docker.Volume(f"{name}-modelfiles", name=f"{name}-modelfiles", opts=opts)
    ollama_image = docker.RemoteImage(f"{name}-image", name=ollama_ref.ref, keep_locally=True, opts=opts)

    server_env = {
        **args.server.environment(),
        "OLLAMA_HOST": f"0.0.0.0:{OLLAMA_PORT}",  # inside the container; published on publishAddress only
        "OLLAMA_MODELS": f"{OLLAMA_HOME}/models",
        "HOME": OLLAMA_HOME,
    }
    ports = []
    if not args.auth_proxy:
        ports = [docker.ContainerPortArgs(internal=OLLAMA_PORT, external=args.ollama_port, ip=args.publish_address)]
        api_edge = docker.Network(f"{name}-api-edge", name=f"{name}-api-edge", driver="bridge", opts=opts)
        server_networks.append(docker.ContainerNetworksAdvancedArgs(name=api_edge.name))
    gpus = None
    if args.gpu == "all":
        gpus = "all"
    elif isinstance(args.gpu, list):
        gpus = "device=" + ",".join(args.gpu)
    # One-shot pull + create with a server of its own (the serving Ollama has no route out); a failure
    # fails `pulumi up`, and Ollama starts only after it exited successfully.
    modelfiles = args.modelfile_texts()
    steps = [f"ollama pull {shlex.quote(r.tag)}" for r in args.resolved()]
    steps += [f"ollama create {shlex.quote(v)} -f {MODELFILE_DIR}/{v}.Modelfile" for v in modelfiles]
    script = ("set -eu; ollama serve >/tmp/serve.log 2>&1 & server=$!; tries=0; "
              "until ollama list >/dev/null 2>&1; do tries=$((tries + 1)); "
              "if [ $tries -gt 60 ]; then cat /tmp/serve.log; exit 1; fi; sleep 1; done; "
              + "; ".join(steps) + "; kill $server; wait $server || true")
    pull = docker.Container(
        f"{name}-pull",
        name=f"{name}-pull",
        image=ollama_image.image_id,
        entrypoints=["/bin/sh", "-c"],
        command=[script],
        envs=_env({"OLLAMA_HOST": f"127.0.0.1:{OLLAMA_PORT}", "OLLAMA_MODELS": f"{OLLAMA_HOME}/models", "HOME": "/tmp"}),
        volumes=[docker.ContainerVolumeArgs(volume_name=models_volume.name, container_path=OLLAMA_HOME),
                 docker.ContainerVolumeArgs(volume_name=modelfiles_volume.name, container_path=MODELFILE_DIR)],
        uploads=[docker.ContainerUploadArgs(file=f"{MODELFILE_DIR}/{v}.Modelfile", content=text, permissions="0444")
                 for v, text in modelfiles.items()],
        tmpfs={"/tmp": "rw,noexec,nosuid,nodev,size=512m"},
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=egress.name)],
        user=args.docker_user,  # writes the models volume the server reads: the server's user
        **docker_run_once(),
        logs=True,
        labels=_labels("model-pull", part_of),
        **docker_container_hardening(),
        opts=opts,
    )

    server = docker.Container(
        name,
        name=name,
        image=ollama_image.image_id,
        envs=_env(server_env),
        ports=ports,
        volumes=[docker.ContainerVolumeArgs(volume_name=models_volume.name, container_path=OLLAMA_HOME)],
        tmpfs={"/tmp": "rw,nosuid,nodev,size=512m"},
        networks_advanced=server_networks,
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=["CMD", "ollama", "list"], interval="10s", timeout="5s", retries=6, start_period="20s"),
        wait=True,
        wait_timeout=180,
        memory=mem.limit_mb,
        memory_swap=mem.limit_mb,
        gpus=gpus,
        user=args.docker_user,
        restart="unless-stopped",
        labels=_labels("model-server", part_of),
        **docker_container_hardening(),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[pull])),
    )

    served = pull.exit_code.apply(lambda code: (_fail_on_exit(code, f"{name}-pull"), args.served_models())[1])

    api_host, api_port = "127.0.0.1", args.ollama_port
    if args.auth_proxy:
        api_host = args.publish_address if args.publish_address not in ("0.0.0.0", "::") else "<host>"
        api_port = args.proxy_port
        _proxy(name, args, api_key, client_keys, internal, server, part_of, files_dir, opts)
    base_url = f"http://{api_host}:{api_port}/v1"

    webui_url = None
    if args.webui.enabled:
        webui_url = _webui(name, args, webui_secret_key, internal, server, pull, part_of, files_dir, opts)
    return TargetOutputs(base_url, webui_url, served,
                         monitoring_for(name, f"{name}-ollama", f"http://ollama:{OLLAMA_PORT}/api/version"))


def _webui(name, args, secret_key, internal, server, pull, part_of, files_dir, opts) -> str:
    s = args.webui
    behind = docker.Network(f"{name}-webui-internal", name=f"{name}-webui-internal", internal=True, driver="bridge",
                            opts=opts)
    data = docker.Volume(f"{name}-webui-data", name=f"{name}-webui-data", opts=opts)
    secrets = docker.Volume(f"{name}-webui-secrets", name=f"{name}-webui-secrets", opts=opts)
    webui_image = docker.RemoteImage(f"{name}-webui-image", name=image("open-webui").ref, keep_locally=True, opts=opts)
    webui = docker.Container(
        f"{name}-webui",
        name=f"{name}-webui",
        image=webui_image.image_id,
        # The image's own command (bash start.sh); WEBUI_SECRET_KEY_FILE (in the environment) names the key file.
        envs=_env(webui_environment(s, f"http://ollama:{OLLAMA_PORT}")),
        volumes=[
            docker.ContainerVolumeArgs(volume_name=data.name, container_path=WEBUI_DATA_DIR),
            docker.ContainerVolumeArgs(volume_name=secrets.name, container_path=WEBUI_SECRET_DIR),
        ],
        uploads=[docker.ContainerUploadArgs(file=WEBUI_KEY_FILE, content=pulumi.Output.secret(secret_key), permissions="0400")],
        tmpfs={"/tmp": "rw,nosuid,nodev,size=512m"},
        # Internal networks only: no port is published; the web UI proxy below is the way in.
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=internal.name),
            docker.ContainerNetworksAdvancedArgs(name=behind.name, aliases=[WEBUI_ALIAS]),
        ],
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=["CMD-SHELL", f"curl --silent --fail http://127.0.0.1:{WEBUI_PORT}/health || exit 1"],
            interval="15s", timeout="5s", retries=5, start_period="60s"),
        memory=s.memory_mb,
        memory_swap=s.memory_mb,
        user=args.docker_user,
        restart="unless-stopped",
        labels=_labels("chat-ui", part_of),
        **docker_container_hardening(),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[server, pull])),
    )
    nginx_container(f"{name}-webui-proxy", edge_name=f"{name}-webui-edge", conf=files_dir / WEBUI_PROXY_CONF,
                    conf_text=docker_generated_files(args)[WEBUI_PROXY_CONF], secrets=[],
                    port=(WEBUI_PROXY_PORT, s.host_port), publish_address=args.publish_address, networks=[behind],
                    labels=_labels("webui-proxy", part_of), depends_on=[webui], opts=opts)
    host = "127.0.0.1" if args.publish_address in ("127.0.0.1", "0.0.0.0") else args.publish_address
    return f"http://{host}:{s.host_port}"


def _proxy(name, args, api_key, client_keys, internal, server, part_of, files_dir, opts) -> None:
    files = auth_proxy_files(args)
    if client_keys:  # named clients: the keys file holds SHA-256 hashes, one line per accepted key
        keys, extra_labels = named_client_keys(client_keys)
    else:
        keys, extra_labels = (f"{KEYS_DIR}/keys.map", keys_map(api_key), "nginx-key-map"), []
    nginx_container(f"{name}-auth-proxy", edge_name=f"{name}-proxy-edge", conf=files_dir / PROXY_CONF,
                    conf_text=files[PROXY_CONF], secrets=[keys], port=(8080, args.proxy_port),
                    publish_address=args.publish_address, networks=[internal],
                    labels=_labels("auth-proxy", part_of) + extra_labels, depends_on=[server], opts=opts,
                    extra_files={path: (files_dir / path, text) for path, text in files.items() if path != PROXY_CONF})
