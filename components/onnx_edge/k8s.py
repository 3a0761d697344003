"""Kubernetes (k3s edge nodes) children of OnnxEdgeNode: Secret, PVC, Deployment, Service, NetworkPolicy.

Not a component of its own: :class:`components.onnx_edge.OnnxEdgeNode` calls
:func:`edge_workload` with ``parent=self`` options.

* One replica with a ReadWriteOnce model PVC (``Recreate`` strategy, so the old pod releases the
  volume first). No PodDisruptionBudget: with one replica a PDB with minAvailable 1 would block
  node drains forever, and maxUnavailable 1 protects nothing; an edge node being drained means
  the service is down anyway.
* The model download is a blocking initContainer (pinned revision), never a postStart hook.
* The server authenticates itself (Bearer key from the mounted Secret), so there is no auth-proxy
  sidecar; the NetworkPolicy still admits only pods of the namespace on the API port, plus the monitoring
  stack's probers (``probers``: pod + namespace labels, e.g. a blackbox exporter in another namespace) on
  that port, where they probe ``/ready`` (a NetworkPolicy filters ports, not paths).
"""

from __future__ import annotations

import math
import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ContainerArgs, ContainerPortArgs, EnvVarArgs, TolerationArgs, VolumeArgs, VolumeMountArgs

from components.catalog import get_cpu_tier
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
from components.labels import selector_labels
from components.context import StackContext
from components.onnx_edge.args import OnnxEdgeNodeArgs
from components.onnx_edge.constants import (
    API_KEY_FILE,
    DEVICE_RESOURCE,
    EDGE_POOL_LABEL,
    EDGE_TAINT_KEY,
    HF_TOKEN_DIR,
    HF_TOKEN_FILE,
    MODELS_DIR,
    SECRETS_DIR,
    SERVER_PORT,
    START_BUDGET_SECONDS,
)
from components.sizing import MemoryPlan, onnx_weights_bytes

__all__ = ["edge_workload"]

GiB = 1024**3


def edge_workload(args: OnnxEdgeNodeArgs, ctx: StackContext, *, labels: dict[str, str], plan: MemoryPlan,
                  api_key: pulumi.Input[str], hf_token: pulumi.Input[str] | None,
                  opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """The node's Kubernetes children; ``ctx.probers`` are admitted on the server port."""
    name, namespace, storage_class = args.name, ctx.namespace, ctx.storage_class
    meta = lambda suffix="": k8s.meta.v1.ObjectMetaArgs(name=f"{name}{suffix}", namespace=namespace, labels=labels)  # noqa: E731
    secret_data = {"api-key": pulumi.Output.secret(api_key)}
    if hf_token is not None:
        secret_data["hf-token"] = pulumi.Output.secret(hf_token)
    secret = k8s.core.v1.Secret(f"{name}-secrets", metadata=meta("-secrets"), type="Opaque", string_data=secret_data, opts=opts)
    size_gb = args.storage_gb or math.ceil(onnx_weights_bytes(args.model, args.variant) * 1.5 / GiB)
    pvc = k8s.core.v1.PersistentVolumeClaim(
        f"{name}-models", metadata=meta("-models"),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"], storage_class_name=storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{size_gb}Gi"}),
        ),
        opts=opts,
    )
    models_volume = VolumeArgs(name="models", persistent_volume_claim={"claim_name": f"{name}-models"})
    secret_volume, secret_mount = secret_file_volume("secrets", f"{name}-secrets", SECRETS_DIR,
                                                     items={"api-key": "api-key"})
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp", size_limit="256Mi")
    dl_tmp_volume, dl_tmp_mount = scratch_volume("download-tmp", "/tmp", size_limit="1Gi")
    extended = {}
    if args.accelerator in DEVICE_RESOURCE and args.execution_provider != "cpu":
        extended = {DEVICE_RESOURCE[args.accelerator]: "1"}
    tier = get_cpu_tier(args.hardware_tier)
    memory_limit = f"{min(plan.memory_limit_bytes, tier.allocatable_bytes) // (1024 * 1024)}Mi"

    download_env = [EnvVarArgs(name="HF_HOME", value=f"{MODELS_DIR}/.cache/huggingface"),
                    EnvVarArgs(name="HF_HUB_DISABLE_TELEMETRY", value="1")]
    download_mounts = [VolumeMountArgs(name="models", mount_path=MODELS_DIR), dl_tmp_mount]
    volumes = [models_volume, secret_volume, tmp_volume, dl_tmp_volume]
    if hf_token is not None:
        token_volume, token_mount = secret_file_volume("hf-token", f"{name}-secrets", HF_TOKEN_DIR, items={"hf-token": "hf-token"})
        volumes.append(token_volume)
        download_mounts.append(token_mount)
        download_env.append(EnvVarArgs(name="HF_TOKEN_PATH", value=HF_TOKEN_FILE))
    argv = args.download_argv()
    download = ContainerArgs(
        name="model-download",
        image=args.image,
        image_pull_policy="IfNotPresent",
        command=argv,
        env=download_env,
        volume_mounts=download_mounts,
        resources=resources("500m", "512Mi", cpu_limit="1", memory_limit="1Gi"),
        security_context=container_security_context(),
    )
    server = ContainerArgs(
        name="server",
        image=args.image,
        image_pull_policy="IfNotPresent",
        ports=[ContainerPortArgs(name="http", container_port=SERVER_PORT, protocol="TCP")],
        env=[EnvVarArgs(name=k, value=v) for k, v in args.server_env().items()],
        volume_mounts=[VolumeMountArgs(name="models", mount_path=MODELS_DIR, read_only=True), secret_mount, tmp_mount],
        resources=resources(plan.cpu_request, plan.memory_request, cpu_limit=str(tier.cpus),
                            memory_limit=memory_limit, extended=extended),
        security_context=container_security_context(),
        startup_probe=http_probe("/ready", "http", period_seconds=10, failure_threshold=START_BUDGET_SECONDS // 10),
        readiness_probe=http_probe("/ready", "http", period_seconds=10, failure_threshold=3),
        liveness_probe=http_probe("/health", "http", period_seconds=20, failure_threshold=3),
    )
    assert API_KEY_FILE.startswith(SECRETS_DIR)
    k8s.apps.v1.Deployment(
        name, metadata=meta(),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,
            strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels("onnx-edge", name)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=restricted_pod_spec(
                    node_selector={EDGE_POOL_LABEL: args.edge_pool},
                    tolerations=[TolerationArgs(key=EDGE_TAINT_KEY, operator="Exists", effect="NoSchedule")],
                    init_containers=[download],
                    containers=[server],
                    volumes=volumes,
                ),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[secret, pvc])),
    )
    k8s.core.v1.Service(
        f"{name}-svc", metadata=meta(),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP", selector=selector_labels("onnx-edge", name),
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=SERVER_PORT, target_port="http", protocol="TCP")],
        ),
        opts=opts,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol", metadata=meta(),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels("onnx-edge", name)),
            policy_types=["Ingress", "Egress"],
            ingress=[ingress_from_pods([{}], ["http"]),
                     *(ingress_from_pods([p.pod_labels], ["http"], namespace_labels=p.namespace_labels) for p in ctx.probers)],
            egress=[dns_egress(), egress_public()],
        ),
        opts=opts,
    )
    return pulumi.Output.from_input(f"http://{name}.{namespace}.svc:{SERVER_PORT}/v1")
