"""Kubernetes (k3s edge nodes) children of OnnxEdgeNode: Secret, PVC, Deployment, Service, NetworkPolicy.

Not a component of its own: :class:`components.onnx_edge.OnnxEdgeNode` calls
:func:`edge_workload` with ``parent=self`` options.

* One replica with a ReadWriteOnce model PVC (``Recreate`` strategy, so the old pod releases the
  volume first). No PodDisruptionBudget: with one replica a PDB with minAvailable 1 would block
  node drains forever, and maxUnavailable 1 protects nothing; an edge node being drained means
  the service is down anyway.
* The model download is a blocking initContainer (pinned revision), never a postStart hook.
* The server authenticates itself (Bearer key from the mounted Secret); the NetworkPolicy still admits only
  pods of the namespace on the API port, plus the monitoring stack's probers (``probers``: pod + namespace
  labels, e.g. a blackbox exporter in another namespace) on that port, where they probe ``/ready`` (a
  NetworkPolicy filters ports, not paths).
* With ``apiClients``: the named-client sidecar (:func:`components.auth_proxy.named_clients_sidecar`, the model
  gateway's nginx config and gateway.js; the server's own key mounted for it to present upstream) on port 8080
  (``http-auth``), the Service's second port and the only one pods of the namespace are admitted on; the server's
  port keeps only the probers. The smoke Job calls through the proxy as the client ``slm-verify``, its key in the
  Secret ``<name>-verify-key``.
"""

from __future__ import annotations

import math
import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ContainerArgs, ContainerPortArgs, EnvVarArgs, VolumeArgs, VolumeMountArgs

from components.auth_proxy import PROXY_PORT, PROXY_PORT_NAME, named_clients_sidecar, prometheus_ingress
from components.catalog import get_cpu_tier
from components.gateway.constants import VERIFY_CLIENT
from components.hardening import (
    container_security_context,
    egress_public,
    http_probe,
    ingress_from_pods,
    network_policy_spec,
    restricted_pod_spec,
    resources,
    scratch_volume,
    secret_file_volume,
)
from components.labels import selector_labels
from components.placement import taint_toleration
from components.lifecycle.cache_fill import SCRIPTS_MOUNT, CacheFill, FillStep, cache_claim, cache_fill_job, revision_key
from components.lifecycle.verification import lifecycle_scripts, smoke_job, spec_key
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
from components.onnx_edge.proxy import OPEN_PATHS, TITLE
from components.sizing import MemoryPlan, onnx_weights_bytes
from components.sizing.common import quantity_bytes

__all__ = ["edge_workload"]

GiB = 1024**3


def edge_workload(args: OnnxEdgeNodeArgs, ctx: StackContext, *, labels: dict[str, str], plan: MemoryPlan,
                  api_key: pulumi.Input[str], hf_token: pulumi.Input[str] | None,
                  opts: pulumi.ResourceOptions,
                  client_keys: dict[str, pulumi.Output[list[str]]] | None = None) -> pulumi.Output[str]:
    """The node's Kubernetes children; ``ctx.probers`` are admitted on the server port; with ``client_keys`` the
    named-client sidecar fronts the server."""
    name, namespace, storage_class = args.name, ctx.namespace, ctx.storage_class
    meta = lambda suffix="": k8s.meta.v1.ObjectMetaArgs(name=f"{name}{suffix}", namespace=namespace, labels=labels)  # noqa: E731
    secret_data = {"api-key": pulumi.Output.secret(api_key)}
    if hf_token is not None:
        secret_data["hf-token"] = pulumi.Output.secret(hf_token)
    secret = k8s.core.v1.Secret(f"{name}-secrets", metadata=meta("-secrets"), type="Opaque", string_data=secret_data, opts=opts)
    size_gb = args.storage_gb or math.ceil(onnx_weights_bytes(args.model, args.variant) * 1.5 / GiB)
    onnx = args.spec.onnx
    assert onnx is not None and onnx.revision, f"{args.model}: the catalog must pin the ONNX revision"
    claim = f"{name}-models-{revision_key(onnx.revision)}"  # one cache per revision; the old one goes with it
    pvc = cache_claim(claim, namespace, labels, size=f"{size_gb}Gi", rwx=False, storage_class=storage_class,
                      rwx_storage_class=None, opts=opts)
    models_volume = VolumeArgs(name="models", persistent_volume_claim={"claim_name": claim, "read_only": True})
    secret_volume, secret_mount = secret_file_volume("secrets", f"{name}-secrets", SECRETS_DIR,
                                                     items={"api-key": "api-key"})
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp", size_limit="256Mi")
    extended = {}
    if args.accelerator in DEVICE_RESOURCE and args.execution_provider != "cpu":
        extended = {DEVICE_RESOURCE[args.accelerator]: "1"}
    tier = get_cpu_tier(args.hardware_tier)
    limit_bytes = min(plan.memory_limit_bytes, tier.allocatable_bytes)
    memory_limit = f"{limit_bytes // (1024 * 1024)}Mi"
    # The request is the sized need rounded up to whole Gi; on a tier whose allocatable memory caps the limit below
    # that rounding (7Gi on cpu-8gb's 6248Mi), the limit itself is the request (the fit check put the need under it).
    memory_request = plan.memory_request if quantity_bytes(plan.total_bytes) <= limit_bytes else memory_limit
    volumes = [models_volume, secret_volume, tmp_volume]
    placement = {"node_selector": {EDGE_POOL_LABEL: args.edge_pool},
                 "tolerations": [taint_toleration(EDGE_TAINT_KEY)]}

    # --- cache fill: hf download of the pinned variant, verified, before the server starts -----------------
    scripts = lifecycle_scripts(name, namespace, labels, ["verify_download.py", "smoke_check.py"], opts)
    local_dir = f"{MODELS_DIR}/{args.model}"
    download = args.download_argv()
    verify = ["python3", f"{SCRIPTS_MOUNT}/verify_download.py", "--repo", onnx.repo, "--revision", onnx.revision,
              "--local-dir", local_dir, "--include", f"{args.subfolder}/*"]
    env = {"HF_HOME": "/tmp/hf-home", "HF_HUB_DISABLE_TELEMETRY": "1", "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}
    secret_files = []
    if hf_token is not None:
        env["HF_TOKEN_PATH"] = HF_TOKEN_FILE
        secret_files.append(("hf-token", f"{name}-secrets", HF_TOKEN_DIR, {"hf-token": "hf-token"}))
    job = cache_fill_job(CacheFill(
        app="onnx-edge", instance=name, job_name=f"{name}-fill-{revision_key(onnx.revision)}", namespace=namespace,
        part_of=ctx.part_of, image=args.image, version=labels.get("app.kubernetes.io/version", "edge"),
        steps=[FillStep("download", download), FillStep("verify", verify)], claim=claim, mount_path=MODELS_DIR,
        env=env, download_bytes=onnx_weights_bytes(args.model, args.variant),
        egress=[egress_public([443], also_except=ctx.cluster.api_server_cidrs)], scripts_config_map=f"{name}-lifecycle",
        secret_files=secret_files, memory="512Mi", memory_limit="1Gi", tmp_size="2Gi", pod_spec_extra=placement,
    ), pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[secret, pvc, scripts])))
    server = ContainerArgs(
        name="server",
        image=args.image,
        image_pull_policy="IfNotPresent",
        ports=[ContainerPortArgs(name="http", container_port=SERVER_PORT, protocol="TCP")],
        env=[EnvVarArgs(name=k, value=v) for k, v in args.server_env().items()],
        volume_mounts=[VolumeMountArgs(name="models", mount_path=MODELS_DIR, read_only=True), secret_mount, tmp_mount],
        resources=resources(plan.cpu_request, memory_request, cpu_limit=str(tier.cpus),
                            memory_limit=memory_limit, extended=extended),
        security_context=container_security_context(),
        startup_probe=http_probe("/ready", "http", period_seconds=10, failure_threshold=START_BUDGET_SECONDS // 10),
        readiness_probe=http_probe("/ready", "http", period_seconds=10, failure_threshold=3),
        liveness_probe=http_probe("/health", "http", period_seconds=20, failure_threshold=3),
    )
    assert API_KEY_FILE.startswith(SECRETS_DIR)
    containers = [server]
    if client_keys:
        proxy = named_clients_sidecar(name, namespace=namespace, labels=labels, upstream_port=SERVER_PORT,
                                      clients=args.proxy_clients(), models=[args.model], client_keys=client_keys,
                                      upstream_key=(f"{name}-secrets", "api-key"), open_paths=OPEN_PATHS, title=TITLE,
                                      opts=opts)
        containers += [proxy.container, *proxy.extra_containers]
        volumes += proxy.volumes
    deployment = k8s.apps.v1.Deployment(
        name, metadata=meta(),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,
            strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels("onnx-edge", name)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=restricted_pod_spec(containers=containers, volumes=volumes, **placement),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[secret, pvc, job])),
    )
    service = k8s.core.v1.Service(
        f"{name}-svc", metadata=meta(),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP", selector=selector_labels("onnx-edge", name),
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=SERVER_PORT, target_port="http", protocol="TCP"),
                   *([k8s.core.v1.ServicePortArgs(name=PROXY_PORT_NAME, port=PROXY_PORT, target_port=PROXY_PORT_NAME,
                                                  protocol="TCP")] if client_keys else [])],
        ),
        opts=opts,
    )
    policy = k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol", metadata=meta(),
        spec=network_policy_spec(
            selector_labels("onnx-edge", name),
            # With the proxy, pods of the namespace (the smoke Job among them) come in through it only.
            ingress=[ingress_from_pods([{}], [PROXY_PORT_NAME if client_keys else "http"]),
                     *(ingress_from_pods([p.pod_labels], ["http"], namespace_labels=p.namespace_labels) for p in ctx.probers),
                     # the proxy's per-client metrics exporter: Prometheus only
                     *([prometheus_ingress(ctx)] if client_keys else [])],
            # The model is on the read-only cache the fill Job wrote: DNS is the only egress (CKV_SLM_030).
        ),
        opts=opts,
    )
    port, key_secret, smoke_deps = SERVER_PORT, (f"{name}-secrets", "api-key"), [deployment, service, policy, scripts]
    if client_keys:  # the smoke Job is the client slm-verify, through the proxy, its key from a Secret file
        port, key_secret = PROXY_PORT, (f"{name}-verify-key", "api-key")
        smoke_deps.append(k8s.core.v1.Secret(
            key_secret[0], metadata=meta("-verify-key"), type="Opaque",
            string_data={"api-key": pulumi.Output.secret(client_keys[VERIFY_CLIENT].apply(lambda keys: keys[0]))},
            opts=opts))
    base_url = f"http://{name}.{namespace}.svc:{port}/v1"
    smoke_job(
        app="onnx-edge", instance=name, namespace=namespace, part_of=ctx.part_of,
        key=spec_key(args.image, args.server_env(), onnx.revision, *(["named-clients"] if client_keys else [])),
        base_url=base_url, models=[args.model], api_key_secret=key_secret,
        server_selector=selector_labels("onnx-edge", name), server_port=port, scripts_config_map=f"{name}-lifecycle",
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=smoke_deps)),
    )
    return pulumi.Output.from_input(base_url)
