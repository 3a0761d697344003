"""The VllmService workload: pod spec, Deployment, Service, NetworkPolicy and Secrets.

Pod layout (read-only root everywhere, UID 10001, no capabilities):

* init ``model-download`` (one per checkpoint, + ``lora-<name>`` per adapter): the same
  pinned vLLM image runs ``hf download <repo> --revision <sha> --include <patterns>`` into
  the model cache (``HF_HOME=/models``), fetching only what vLLM loads (safetensors, JSON
  configs, tokenizer files); the HF token, when set, is a Secret file (``HF_TOKEN_PATH``).
  ``hf download`` skips files already present, so a shared cache is filled once. With
  ``download: false`` there is no download step and no internet egress.
* ``vllm``: ``vllm serve --model <repo> --revision <sha> --host 127.0.0.1`` with
  ``HF_HUB_OFFLINE=1``, the cache mounted read-only, ``/dev/shm`` as a memory
  emptyDir, and every path vLLM/torch/triton write to on an emptyDir under /tmp. Startup
  and readiness probes go through the proxy; liveness is an exec probe on 127.0.0.1:8000 so
  a stuck proxy never restarts the GPU server.
* ``auth-proxy``: nginx on 8080 (API, Bearer key) and 9090 (metrics only).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random
from pulumi_kubernetes.core.v1 import (
    AffinityArgs,
    ContainerArgs,
    ContainerPortArgs,
    EnvVarArgs,
    ExecActionArgs,
    NodeAffinityArgs,
    NodeSelectorArgs,
    NodeSelectorRequirementArgs,
    NodeSelectorTermArgs,
    PersistentVolumeClaimVolumeSourceArgs,
    PodTemplateSpecArgs,
    ProbeArgs,
    TolerationArgs,
    TopologySpreadConstraintArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import NetworkPolicyEgressRuleArgs

from components.auth_proxy import METRICS_PORT, METRICS_PORT_NAME, PROXY_PORT, PROXY_PORT_NAME, auth_proxy_sidecar
from components.hardening import (
    container_security_context,
    dns_egress,
    egress_public,
    http_probe,
    ingress_from_pods,
    restricted_pod_spec,
    resources,
    scratch_volume,
    secret_file_volume,
)
from components.catalog import get_gpu
from components.labels import selector_labels, standard_labels
from components.context import StackContext
from components.versions import image as pinned_image
from components.vllm.args import VllmServiceArgs
from components.vllm.constants import GATEWAY_PORT_NAME, LORA_DIR, MODEL_DIR, VLLM_PORT

__all__ = ["MODEL_DIR", "LORA_DIR", "Workload", "build_workload", "vllm_env", "download_egress",
           "gpu_node_affinity", "liveness_probe"]

HF_TOKEN_DIR = "/etc/hf-token"
APP_NAME = "vllm"

_LIVENESS_SCRIPT = (
    "import sys, urllib.request\n"
    "try:\n"
    "    sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=8).status == 200 else 1)\n"
    "except Exception:\n"
    "    sys.exit(1)\n"
)


def download_egress() -> NetworkPolicyEgressRuleArgs:
    """TCP 443 to public addresses only: the Hugging Face hub and its CDN (no stable CIDR)."""
    return egress_public()


def gpu_node_affinity(label_key: str, gpu_id: str) -> AffinityArgs:
    """Required node affinity on the GPU product label: the catalog value and its aliases (PCIe/NVL boards)."""
    gpu = get_gpu(gpu_id)
    return AffinityArgs(node_affinity=NodeAffinityArgs(
        required_during_scheduling_ignored_during_execution=NodeSelectorArgs(node_selector_terms=[
            NodeSelectorTermArgs(match_expressions=[NodeSelectorRequirementArgs(
                key=label_key, operator="In", values=[gpu.node_label_value, *gpu.node_label_aliases])]),
        ]),
    ))


def liveness_probe() -> ProbeArgs:
    """Exec probe straight to vLLM on 127.0.0.1:8000 with the image's python3 (no curl in the image):
    a stuck auth proxy fails readiness, never restarts the GPU server."""
    return ProbeArgs(
        exec_=ExecActionArgs(command=["python3", "-c", _LIVENESS_SCRIPT]),
        period_seconds=10, timeout_seconds=10, failure_threshold=6, success_threshold=1,
    )


@dataclass(frozen=True)
class Workload:
    labels: dict[str, str]
    selector: dict[str, str]
    deployment_name: str
    service_name: str
    api_key_secret_name: str


def vllm_env() -> list[EnvVarArgs]:
    """Environment of the server: offline hub, writable caches under /tmp, no telemetry."""
    env = {
        "HF_HOME": MODEL_DIR,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_MODULES_CACHE": "/tmp/hf-modules",
        "HOME": "/tmp/home",
        "XDG_CACHE_HOME": "/tmp/.cache",
        "XDG_CONFIG_HOME": "/tmp/.config",
        "VLLM_CACHE_ROOT": "/tmp/vllm-cache",
        "VLLM_CONFIG_ROOT": "/tmp/.config/vllm",
        "TRITON_CACHE_DIR": "/tmp/triton",
        "TORCHINDUCTOR_CACHE_DIR": "/tmp/torchinductor",
        "NUMBA_CACHE_DIR": "/tmp/numba",
        "OUTLINES_CACHE_DIR": "/tmp/outlines",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    return [EnvVarArgs(name=k, value=v) for k, v in env.items()]


def _download_env(with_token: bool) -> list[EnvVarArgs]:
    env = {"HF_HOME": MODEL_DIR, "HF_HUB_DISABLE_TELEMETRY": "1", "HOME": "/tmp/home",
           "XDG_CACHE_HOME": "/tmp/.cache"}
    if with_token:
        env["HF_TOKEN_PATH"] = f"{HF_TOKEN_DIR}/token"
    return [EnvVarArgs(name=k, value=v) for k, v in env.items()]


def _init_container(name: str, ref: str, argv: list[str], mounts: list[VolumeMountArgs], with_token: bool,
                    gpu: dict[str, str]) -> ContainerArgs:
    """A download step. It runs the CUDA image, so it carries the pod's GPU limit (CKV_SLM_001):
    a pod's effective extended-resource request is max(init containers, sum of app containers), and
    the kubelet hands the init container's devices on to the app containers, so this costs no GPU."""
    return ContainerArgs(
        name=name,
        image=ref,
        image_pull_policy="IfNotPresent",
        command=argv[:2],
        args=argv[2:],
        env=_download_env(with_token),
        volume_mounts=mounts,
        resources=resources("500m", "1Gi", cpu_limit="2", memory_limit="2Gi", extended=gpu),
        security_context=container_security_context(),
    )


def build_workload(
    args: VllmServiceArgs,
    ctx: StackContext,
    *,
    api_key: pulumi.Input[str] | None,
    hf_token: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> Workload:
    """Create every namespaced object of one VllmService except the autoscaling ones."""
    name, namespace, cluster = args.name, ctx.namespace, ctx.cluster
    img = pinned_image(args.image)
    labels = standard_labels(APP_NAME, name, "model-server", img.tag, ctx.part_of)
    selector = selector_labels(APP_NAME, name)

    def meta(obj_name: str) -> ObjectMetaArgs:
        return ObjectMetaArgs(name=obj_name, namespace=namespace, labels=labels)

    # --- identity and secrets ---------------------------------------------------------
    k8s.core.v1.ServiceAccount(name, metadata=meta(name), automount_service_account_token=False, opts=opts)
    gateway = ctx.gateway  # behind a ModelGateway: no own proxy or key; only the gateway and Prometheus get in
    proxy = None
    api_key_secret = ""
    if gateway is None:
        if api_key is None:
            api_key = pulumi_random.RandomPassword(f"{name}-api-key", length=48, special=False, opts=opts).result
        api_key_secret = f"{name}-api-key"
        k8s.core.v1.Secret(api_key_secret, metadata=meta(api_key_secret), type="Opaque",
                           string_data={"api-key": pulumi.Output.secret(api_key)}, opts=opts)
        proxy = auth_proxy_sidecar(name, namespace=namespace, labels=labels, upstream_port=VLLM_PORT, api_key=api_key,
                                   health_path="/health", metrics_path="/metrics", opts=opts)
    with_token = hf_token is not None and args.download  # no download step: the token is not needed
    volumes: list[VolumeArgs] = list(proxy.volumes) if proxy else []
    token_mounts: list[VolumeMountArgs] = []
    if with_token:
        k8s.core.v1.Secret(f"{name}-hf-token", metadata=meta(f"{name}-hf-token"), type="Opaque",
                           string_data={"token": pulumi.Output.secret(hf_token)}, opts=opts)
        vol, mount = secret_file_volume("hf-token", f"{name}-hf-token", HF_TOKEN_DIR, items={"token": "token"})
        volumes.append(vol)
        token_mounts.append(mount)

    # --- model cache --------------------------------------------------------------------
    max_replicas = args.max_replicas_resolved
    mode = args.model_cache or ("shared" if max_replicas == 1 or cluster.rwx_storage_class else "per-pod")
    if mode == "shared":
        rwx = max_replicas > 1
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-model-cache",
            metadata=meta(f"{name}-model-cache"),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteMany" if rwx else "ReadWriteOnce"],
                storage_class_name=cluster.rwx_storage_class if rwx else cluster.storage_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{args.cache_gib}Gi"}),
            ),
            opts=opts,
        )
        volumes.append(VolumeArgs(name="model-cache",
                                  persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(claim_name=f"{name}-model-cache")))
    else:
        vol, _ = scratch_volume("model-cache", MODEL_DIR, size_limit=f"{args.cache_gib}Gi")
        volumes.append(vol)
    rw_cache = VolumeMountArgs(name="model-cache", mount_path=MODEL_DIR)
    ro_cache = VolumeMountArgs(name="model-cache", mount_path=MODEL_DIR, read_only=True)

    # --- scratch ------------------------------------------------------------------------
    shm_vol, shm_mount = scratch_volume("dshm", "/dev/shm", size_limit=f"{args.shm_gib}Gi", memory=True)
    tmp_vol, tmp_mount = scratch_volume("vllm-tmp", "/tmp", size_limit="8Gi")
    dl_tmp_vol, dl_tmp_mount = scratch_volume("download-tmp", "/tmp", size_limit="1Gi")
    volumes += [shm_vol, tmp_vol, dl_tmp_vol]

    # --- init: downloads ---------------------------------------------------------------
    repo, rev = args.checkpoint
    plan = args.plan
    gpu = {"nvidia.com/gpu": str(plan.gpu_count)}
    download_mounts = [rw_cache, dl_tmp_mount, *token_mounts]
    # One --include with every pattern: huggingface_hub < 1.0 (the v0.11 image; transformers 4.5x pins
    # it below 1.0) parses --include with nargs="*", where a repeated --include keeps only the last.
    include = ["--include", *args.download_patterns]
    inits = []
    if args.download:
        inits.append(_init_container("model-download", img.ref, ["hf", "download", repo, "--revision", str(rev), *include],
                                     download_mounts, with_token, gpu))
        for adapter in args.lora_adapters:
            inits.append(_init_container(
                f"lora-{adapter.name}", img.ref,
                ["hf", "download", adapter.hf_repo, "--revision", adapter.revision, "--local-dir", f"/models/lora/{adapter.name}", *include],
                download_mounts, with_token, gpu,
            ))
    else:
        volumes = [v for v in volumes if v.name != "download-tmp"]

    # --- server -------------------------------------------------------------------------
    budget = args.startup_budget
    mem_request, mem_limit = args.container_memory
    probe_port = PROXY_PORT if proxy else VLLM_PORT
    server = ContainerArgs(
        name="vllm",
        image=img.ref,
        image_pull_policy="IfNotPresent",
        command=["vllm", "serve"],
        args=args.engine_args() if proxy else args.engine_args(host="0.0.0.0"),
        ports=None if proxy else [ContainerPortArgs(name=GATEWAY_PORT_NAME, container_port=VLLM_PORT, protocol="TCP")],
        env=vllm_env(),
        volume_mounts=[ro_cache, shm_mount, tmp_mount],
        resources=resources(args.container_cpu, mem_request, memory_limit=mem_limit, extended=gpu),
        security_context=container_security_context(),
        # Startup and readiness go to the pod IP through the proxy (8080 forwards /health to vLLM), so
        # readiness reflects the path clients use; liveness checks vLLM itself (a stuck proxy is not a
        # reason to restart a GPU server that took minutes to load).
        startup_probe=http_probe("/health", probe_port, period_seconds=10, failure_threshold=budget // 10),
        readiness_probe=http_probe("/health", probe_port, period_seconds=5, failure_threshold=3),
        liveness_probe=liveness_probe(),
    )

    deployment_name = name
    strategy = ({"type": "Recreate"} if mode == "shared" and max_replicas == 1
                else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    k8s.apps.v1.Deployment(
        deployment_name,
        metadata=meta(deployment_name),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=args.replicas,
            selector=LabelSelectorArgs(match_labels=selector),
            strategy=strategy,
            template=PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=labels),
                spec=restricted_pod_spec(
                    service_account_name=name,
                    init_containers=inits or None,
                    containers=[server, proxy.container] if proxy else [server],
                    volumes=volumes,
                    affinity=gpu_node_affinity(cluster.gpu_node_label, args.gpu),
                    node_selector=dict(args.node_selector) or None,
                    tolerations=[TolerationArgs(key=cluster.gpu_taint_key, operator="Exists", effect="NoSchedule")],
                    topology_spread_constraints=[TopologySpreadConstraintArgs(
                        max_skew=1, topology_key="kubernetes.io/hostname", when_unsatisfiable="ScheduleAnyway",
                        label_selector=LabelSelectorArgs(match_labels=selector),
                    )],
                    termination_grace_period_seconds=60,
                ),
            ),
        ),
        opts=opts,
    )

    # --- service and network policy -----------------------------------------------------
    k8s.core.v1.Service(
        name,
        metadata=meta(name),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            selector=selector,
            ports=[
                k8s.core.v1.ServicePortArgs(name=PROXY_PORT_NAME, port=PROXY_PORT, target_port=PROXY_PORT_NAME, protocol="TCP"),
                k8s.core.v1.ServicePortArgs(name=METRICS_PORT_NAME, port=METRICS_PORT, target_port=METRICS_PORT_NAME, protocol="TCP"),
            ] if proxy else [
                k8s.core.v1.ServicePortArgs(name=GATEWAY_PORT_NAME, port=VLLM_PORT, target_port=GATEWAY_PORT_NAME, protocol="TCP"),
            ],
        ),
        opts=opts,
    )
    scraper = args.scraper(ctx)
    if gateway is None:
        ingress = [
            ingress_from_pods([c.pod_labels], [PROXY_PORT], namespace_labels=c.namespace_labels) for c in args.clients
        ] + [ingress_from_pods([scraper.pod_labels], [METRICS_PORT], namespace_labels=scraper.namespace_labels)]
    else:  # vLLM serves /metrics on its API port: the gateway and Prometheus, nobody else
        ingress = [ingress_from_pods([gateway.pod_labels], [VLLM_PORT], namespace_labels=gateway.namespace_labels),
                   ingress_from_pods([scraper.pod_labels], [VLLM_PORT], namespace_labels=scraper.namespace_labels)]
    k8s.networking.v1.NetworkPolicy(
        name,
        metadata=meta(name),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=LabelSelectorArgs(match_labels=selector),
            policy_types=["Ingress", "Egress"],
            ingress=ingress,
            # 443 to public addresses is for the download steps (the hub's CDN has no stable CIDR).
            # NetworkPolicy selects pods, not containers: the server and proxy share this rule.
            egress=[dns_egress(), download_egress()] if args.download else [dns_egress()],
        ),
        opts=opts,
    )
    return Workload(labels, selector, deployment_name, name, api_key_secret)
