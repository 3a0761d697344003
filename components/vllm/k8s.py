"""The VllmService workload: pod spec, Deployment, Service, NetworkPolicy and Secrets.

The model cache (a PVC per revision) is filled and verified by the cache-fill Job before the
Deployment is created (:mod:`components.vllm.lifecycle`); serving pods only read it.

Pod layout (read-only root everywhere, UID 10001, no capabilities, no init steps):

* ``vllm``: ``vllm serve --model <repo> --revision <sha> --host 127.0.0.1`` (``0.0.0.0`` behind a
  ModelGateway) with ``HF_HUB_OFFLINE=1``, the cache mounted read-only, ``/dev/shm`` as a memory
  emptyDir, and every path vLLM/torch/triton write to on an emptyDir under /tmp. Startup
  and readiness probes go through the proxy; liveness is an exec probe on 127.0.0.1:8000 so
  a stuck proxy never restarts the GPU server.
* ``auth-proxy`` (no gateway): nginx on 8080 (API, Bearer key) and 9090 (metrics only).

Egress of the serving pods: DNS only (CKV_SLM_030). Without a gateway, a smoke Job per service calls
it through the proxy after the rollout; behind a gateway the gateway's smoke Job does (docs/lifecycle.md).
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
    TopologySpreadConstraintArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components.base import EXTERNAL_CLAIMS_ANNOTATION
from components.auth_proxy import METRICS_PORT, METRICS_PORT_NAME, PROXY_PORT, PROXY_PORT_NAME, auth_proxy_sidecar
from components.hardening import (
    container_security_context,
    http_probe,
    ingress_from_pods,
    network_policy_spec,
    restricted_pod_spec,
    resources,
    scratch_volume,
)
from components.catalog import get_gpu
from components.labels import TRACK_LABEL, selector_labels, standard_labels
from components.placement import taint_toleration
from components.context import StackContext
from components.versions import image as pinned_image
from components.vllm.args import VllmServiceArgs
from components.lifecycle.benchmark import benchmark_selector
from components.lifecycle.verification import Endpoint, lifecycle_scripts, smoke_job, smoke_selector, spec_key
from components.vllm.constants import GATEWAY_PORT_NAME, LORA_DIR, MODEL_DIR, VLLM_PORT
from components.gateway.constants import epp_selector
from components.vllm.lifecycle import (
    ROLLOUT_LABEL,
    CachePlan,
    cache_plan,
    cache_pvc,
    fill_job,
    resolved_rollout,
    rollout_strategy,
)

__all__ = ["MODEL_DIR", "LORA_DIR", "Workload", "build_workload", "vllm_env", "gpu_node_affinity", "liveness_probe",
           "server_container", "serving_pod_spec", "serving_network_policy"]

HF_TOKEN_DIR = "/etc/hf-token"
APP_NAME = "vllm"

_LIVENESS_SCRIPT = (
    "import sys, urllib.request\n"
    "try:\n"
    "    sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=8).status == 200 else 1)\n"
    "except Exception:\n"
    "    sys.exit(1)\n"
)


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
    cache: CachePlan
    serving: list[pulumi.Resource]
    """The serving resources post-deploy Jobs wait for (Deployment, Service, NetworkPolicy, scripts)."""
    endpoint: Endpoint
    """What clients call (and so the smoke and benchmark Jobs): the service's own proxy, or the gateway."""
    scripts: pulumi.Resource | None = None
    """The lifecycle-scripts ConfigMap (the canary's fill Job mounts it too)."""
    with_token: bool = False
    """The fill Jobs read the HF token Secret."""


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


def server_container(args: VllmServiceArgs, image_ref: str, *, behind_proxy: bool,
                     mounts: list[VolumeMountArgs]) -> ContainerArgs:
    """The ``vllm serve`` container: loopback behind the auth proxy, the pod address behind a ModelGateway."""
    plan = args.plan
    gpu = {"nvidia.com/gpu": str(plan.gpu_count)}
    budget = args.startup_budget
    mem_request, mem_limit = args.container_memory
    probe_port = PROXY_PORT if behind_proxy else VLLM_PORT
    return ContainerArgs(
        name="vllm",
        image=image_ref,
        image_pull_policy="IfNotPresent",
        command=["vllm", "serve"],
        args=args.engine_args() if behind_proxy else args.engine_args(host="0.0.0.0"),
        ports=None if behind_proxy else [ContainerPortArgs(name=GATEWAY_PORT_NAME, container_port=VLLM_PORT, protocol="TCP")],
        env=vllm_env(),
        volume_mounts=mounts,
        resources=resources(args.container_cpu, mem_request, memory_limit=mem_limit, extended=gpu),
        security_context=container_security_context(),
        # Startup and readiness go to the pod IP through the proxy (8080 forwards /health to vLLM), so
        # readiness reflects the path clients use; liveness checks vLLM itself (a stuck proxy is not a
        # reason to restart a GPU server that took minutes to load).
        startup_probe=http_probe("/health", probe_port, period_seconds=10, failure_threshold=budget // 10),
        readiness_probe=http_probe("/health", probe_port, period_seconds=5, failure_threshold=3),
        liveness_probe=liveness_probe(),
    )


def serving_pod_spec(args: VllmServiceArgs, ctx: StackContext, containers: list[ContainerArgs], volumes: list[VolumeArgs],
                     spread_selector: dict[str, str]):
    """The hardened pod spec of a serving pod: GPU placement, spread over nodes, the service's account."""
    cluster = ctx.cluster
    return restricted_pod_spec(
        service_account_name=args.name,
        containers=containers,
        volumes=volumes,
        affinity=gpu_node_affinity(cluster.gpu_node_label, args.gpu),
        node_selector=dict(args.node_selector) or None,
        tolerations=[taint_toleration(cluster.gpu_taint_key)],
        topology_spread_constraints=[TopologySpreadConstraintArgs(
            max_skew=1, topology_key="kubernetes.io/hostname", when_unsatisfiable="ScheduleAnyway",
            label_selector=LabelSelectorArgs(match_labels=spread_selector),
        )],
        termination_grace_period_seconds=60,
    )


def _gateway_ingress(ctx: StackContext, name: str) -> list:
    """Who reaches a model server behind the ModelGateway on its port: the gateway's pods; with
    cluster.inferenceGateway (GAIE) instead the cluster Gateway's data plane (it forwards the requests) and this
    service's endpoint picker (it scrapes /metrics: docs/gateway.md, "GAIE")."""
    gaie, gateway = ctx.cluster.inference_gateway, ctx.gateway
    if gaie is None:
        return [ingress_from_pods([gateway.pod_labels], [VLLM_PORT], namespace_labels=gateway.namespace_labels)]
    return [ingress_from_pods([gaie.data_plane.pod_labels], [VLLM_PORT], namespace_labels=gaie.data_plane_namespace_labels),
            ingress_from_pods([epp_selector(name)], [VLLM_PORT])]


def serving_network_policy(name: str, meta: ObjectMetaArgs, selector: dict[str, str], ingress: list,
                           opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """A serving pod's policy: the given ingress, egress DNS only (CKV_SLM_030)."""
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=meta,
        # The server loads from the read-only cache (HF_HUB_OFFLINE=1) and the proxy talks to 127.0.0.1:
        # DNS is the only egress (CKV_SLM_030). Only the cache-fill Job reaches the download source.
        spec=network_policy_spec(selector, ingress=ingress),
        opts=opts,
    )


def build_workload(
    args: VllmServiceArgs,
    ctx: StackContext,
    *,
    api_key: pulumi.Input[str] | None,
    hf_token: pulumi.Input[str] | None,
    gateway_endpoint: Endpoint | None = None,
    opts: pulumi.ResourceOptions,
) -> Workload:
    """Create every namespaced object of one VllmService except the autoscaling ones.

    ``gateway_endpoint``: the ModelGateway clients call when the stack has one (``ctx.gateway``); the smoke
    and benchmark Jobs call through it with the gateway's verification client key.
    """
    name, namespace, cluster = args.name, ctx.namespace, ctx.cluster
    if ctx.gateway is not None and gateway_endpoint is None:
        raise ValueError(f"{name}: behind a ModelGateway the smoke and benchmark Jobs call through it; pass gateway_endpoint")
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
    with_token = hf_token is not None and args.source.downloads  # only the fill Job uses the token
    volumes: list[VolumeArgs] = list(proxy.volumes) if proxy else []
    if with_token:
        k8s.core.v1.Secret(f"{name}-hf-token", metadata=meta(f"{name}-hf-token"), type="Opaque",
                           string_data={"token": pulumi.Output.secret(hf_token)}, opts=opts)

    # --- model cache: one PVC per revision, filled and verified by a Job before any pod moves ------------
    rollout = resolved_rollout(args, ctx)
    cache = cache_plan(args, ctx)
    scripts = lifecycle_scripts(name, namespace, labels, ["verify_download.py", "smoke_check.py", "bench_report.py"], opts)
    serving_deps: list[pulumi.Resource] = []
    if cache.created:
        serving_deps.append(cache_pvc(args, ctx, cache, labels, opts))
    job = fill_job(args, ctx, cache, server_selector=selector, with_token=with_token,
                   gpu_affinity=gpu_node_affinity(cluster.gpu_node_label, args.gpu), scripts_config_map=f"{name}-lifecycle",
                   opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[*serving_deps, scripts])))
    if job is not None:
        serving_deps.append(job)
    volumes.append(VolumeArgs(name="model-cache", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(
        claim_name=cache.claim, read_only=True)))
    ro_cache = VolumeMountArgs(name="model-cache", mount_path=MODEL_DIR, read_only=True)

    # --- scratch ------------------------------------------------------------------------
    shm_vol, shm_mount = scratch_volume("dshm", "/dev/shm", size_limit=f"{args.shm_gib}Gi", memory=True)
    tmp_vol, tmp_mount = scratch_volume("vllm-tmp", "/tmp", size_limit="8Gi")
    volumes += [shm_vol, tmp_vol]

    # --- server -------------------------------------------------------------------------
    server = server_container(args, img.ref, behind_proxy=proxy is not None, mounts=[ro_cache, shm_mount, tmp_mount])

    # blue-green: one Deployment per revision, selected by the Service once Pulumi has seen it ready.
    colour = {ROLLOUT_LABEL: cache.key} if rollout == "blue-green" else {}
    deployment_name = f"{name}-{cache.key}" if colour else name
    pod_selector = {**selector, **colour}
    deployment = k8s.apps.v1.Deployment(
        deployment_name,
        metadata=meta(deployment_name),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=args.replicas,
            selector=LabelSelectorArgs(match_labels=pod_selector),
            strategy=rollout_strategy(args, ctx),
            template=PodTemplateSpecArgs(
                # Behind a gateway every server is on a track (stable here; the canary Deployment's pods are
                # canary): the gateway's routers discover one track each (components/vllm/canary.py).
                metadata=ObjectMetaArgs(labels={**labels, **colour, **({TRACK_LABEL: "stable"} if gateway else {})},
                                        # a pre-filled claim is the user's: declared for the gate's reference rule
                                        annotations=None if cache.created else {EXTERNAL_CLAIMS_ANNOTATION: cache.claim}),
                spec=serving_pod_spec(args, ctx, [server, proxy.container] if proxy else [server], volumes, selector),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=serving_deps)),
    )

    # --- service and network policy -----------------------------------------------------
    service = k8s.core.v1.Service(
        name,
        metadata=meta(name),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            selector=pod_selector,
            ports=[
                k8s.core.v1.ServicePortArgs(name=PROXY_PORT_NAME, port=PROXY_PORT, target_port=PROXY_PORT_NAME, protocol="TCP"),
                k8s.core.v1.ServicePortArgs(name=METRICS_PORT_NAME, port=METRICS_PORT, target_port=METRICS_PORT_NAME, protocol="TCP"),
            ] if proxy else [
                k8s.core.v1.ServicePortArgs(name=GATEWAY_PORT_NAME, port=VLLM_PORT, target_port=GATEWAY_PORT_NAME, protocol="TCP"),
            ],
        ),
        # blue-green: the selector moves to the new colour only after its Deployment is ready.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[deployment])) if colour else opts,
    )
    scraper = args.scraper(ctx)
    if gateway is None:
        verifiers = [smoke_selector(APP_NAME, name), benchmark_selector(name)]
        ingress = [
            ingress_from_pods([c.pod_labels], [PROXY_PORT], namespace_labels=c.namespace_labels) for c in args.clients
        ] + [ingress_from_pods(verifiers, [PROXY_PORT]),
             ingress_from_pods([scraper.pod_labels], [METRICS_PORT], namespace_labels=scraper.namespace_labels)]
    else:  # vLLM serves /metrics on its API port: the gateway and Prometheus, nobody else (the smoke and
        # benchmark Jobs call through the gateway, like every client)
        ingress = [*_gateway_ingress(ctx, name),
                   ingress_from_pods([scraper.pod_labels], [VLLM_PORT], namespace_labels=scraper.namespace_labels)]
    policy = serving_network_policy(name, meta(name), selector, ingress, opts)

    # --- post-deploy: smoke test through the proxy, after the serving resources are ready ------------------
    # Behind a gateway: through the gateway, with its verification client's key (what clients reach).
    serving = [deployment, service, policy, scripts]
    endpoint = gateway_endpoint or Endpoint(f"http://{name}.{namespace}.svc.cluster.local:{PROXY_PORT}", selector,
                                            PROXY_PORT, (api_key_secret, "api-key"))
    smoke_job(
        app=APP_NAME, instance=name, namespace=namespace, part_of=ctx.part_of,
        key=spec_key(img.ref, args.engine_args(), cache.key, args.replicas),
        base_url=f"{endpoint.base_url}/v1",
        models=[args.served_name, *(a.name for a in args.lora_adapters)], api_key_secret=endpoint.key_secret,
        server_selector=endpoint.pod_selector, server_port=endpoint.port, scripts_config_map=f"{name}-lifecycle",
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[*serving, *endpoint.ready])),
    )
    return Workload(labels, selector, deployment_name, name, api_key_secret, cache, serving, endpoint, scripts, with_token)
