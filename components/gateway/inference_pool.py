"""One vLLM service behind the cluster's Gateway API Inference Extension (GAIE v1.0.0): its InferencePool and the
endpoint picker (EPP) that pool names, as the ``inferencepool`` Helm chart at the tag deploys them.

Sources (GAIE at tag ``v1.0.0``, commit ``ffea2632``; evidence in docs/gateway.md, "GAIE"):

* ``config/charts/inferencepool/templates/inferencepool.yaml:23-45``: the pool (``targetPorts``, ``selector.matchLabels``,
  ``endpointPickerRef`` naming the EPP Service and its ext-proc port);
* ``templates/epp-deployment.yaml``, ``epp-service.yaml``, ``epp-config.yaml``: the EPP's arguments, ports, gRPC
  probes and plugin configuration; ``templates/rbac.yaml``: its Role (pods, pools, objectives: get/watch/list) and
  ClusterRole (TokenReviews and SubjectAccessReviews: ``cmd/epp/runner/runner.go:186-189`` guards its metrics
  endpoint with ``filters.WithAuthenticationAndAuthorization``);
* ``cmd/epp/runner/runner.go:77-108``: every flag passed here.

Not as the chart has it: the image is pinned by digest (``versions.yaml`` ``gaie-epp``, pulled IfNotPresent), pprof
is off, the pod is hardened like every other (``components/hardening.py``), the token is mounted into the EPP only,
and a NetworkPolicy admits the Gateway's data plane to the ext-proc port and lets the EPP reach only DNS, the API
server and its own pool's model servers (whose metrics it scrapes: ``runner.go:103-106``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ContainerArgs, ContainerPortArgs, ProbeArgs, VolumeArgs, VolumeMountArgs
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components.context import InferenceGateway, StackContext
from components.gateway.constants import (
    DATA_PLANE_ANNOTATION, EPP_APP, EPP_GRPC_PORT, EPP_HEALTH_PORT, EPP_METRICS_PORT, GAIE_VERSION, WORKER_PORT,
    epp_selector,
)
from components.hardening import (
    container_security_context, egress_api_server, egress_to_pods, ingress_from_pods, network_policy_spec,
    restricted_pod_spec, resources, service_account_token_volume,
)
from components.labels import standard_labels
from components.versions import image

__all__ = ["PoolRef", "POOL_GROUP", "PLUGINS_CONFIG", "epp_args", "inference_pool"]

POOL_GROUP = "inference.networking.k8s.io"
"""The InferencePool API group at GAIE v1.0.0 (``api/v1``; the EPP's ``--pool-group`` default, runserver.go:85)."""
PLUGINS_FILE = "default-plugins.yaml"
PLUGINS_CONFIG = """\
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
  - pluginRef: kv-cache-utilization-scorer
  - pluginRef: prefix-cache-scorer
"""
"""The chart's default scheduling profile, verbatim (``templates/epp-config.yaml:8-19``): queue depth, KV-cache use
and prefix-cache affinity."""


@dataclass(frozen=True)
class PoolRef:
    """One vLLM service's pool: the name the HTTPRoute's backendRef uses and the served model names routed to it."""

    name: str
    models: tuple[str, ...]


def epp_args(pool: str, namespace: str) -> list[str]:
    """The EPP's command line: the chart's (``epp-deployment.yaml:25-37``) plus what the pinned vLLM needs."""
    return [
        "--pool-name", pool, "--pool-namespace", namespace,
        "--zap-encoder", "json",
        "--config-file", f"/config/{PLUGINS_FILE}",
        "--v", "1",
        # vLLM 0.11.0 exports vllm:kv_cache_usage_perc (docs/monitoring.md); the EPP's default is the deprecated
        # vllm:gpu_cache_usage_perc (runserver.go:80), which 0.11.0 hides.
        "--kv-cache-usage-percentage-metric", "vllm:kv_cache_usage_perc",
        # No LoRA affinity scorer in the profile above, so no LoRA metric to scrape (the chart's own way to turn it
        # off: epp-deployment.yaml:43-44).
        "--lora-info-metric", "",
        # pprof handlers sit on the metrics server (runner.go:225-233, default on: runserver.go:78).
        "--enable-pprof=false",
    ]


def inference_pool(gateway: str, service: str, server_selector: dict[str, str], ctx: StackContext,
                   gaie: InferenceGateway, *, opts: pulumi.ResourceOptions) -> str:
    """Create vLLM service ``service``'s InferencePool (selecting ``server_selector`` on the vLLM port) and its EPP;
    return the pool's name. Objects are named ``<gateway>-<service>`` (pool) and ``<gateway>-<service>-epp``."""
    namespace = ctx.namespace
    pool, epp = f"{gateway}-{service}", f"{gateway}-{service}-epp"
    labels = standard_labels(EPP_APP, service, "endpoint-picker", GAIE_VERSION, ctx.part_of)
    selector = epp_selector(service)
    data_plane = [gaie.data_plane.pod_labels]
    data_plane_ns = gaie.data_plane_namespace_labels

    def meta(name: str, annotations: dict[str, str] | None = None, namespaced: bool = True) -> ObjectMetaArgs:
        return ObjectMetaArgs(name=name, namespace=namespace if namespaced else None, labels=labels,
                              annotations=annotations)

    k8s.core.v1.ConfigMap(epp, metadata=meta(epp), data={PLUGINS_FILE: PLUGINS_CONFIG}, opts=opts)

    # --- RBAC, as the chart's templates/rbac.yaml ----------------------------------------------------
    k8s.core.v1.ServiceAccount(epp, metadata=meta(epp), automount_service_account_token=False, opts=opts)
    k8s.rbac.v1.Role(epp, metadata=meta(epp), rules=[
        k8s.rbac.v1.PolicyRuleArgs(api_groups=["inference.networking.x-k8s.io"],
                                   resources=["inferenceobjectives", "inferencepools"], verbs=["get", "watch", "list"]),
        k8s.rbac.v1.PolicyRuleArgs(api_groups=[POOL_GROUP], resources=["inferencepools"], verbs=["get", "watch", "list"]),
        k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods"], verbs=["get", "watch", "list"]),
    ], opts=opts)
    subject = k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=epp, namespace=namespace)
    k8s.rbac.v1.RoleBinding(epp, metadata=meta(epp), subjects=[subject], role_ref=k8s.rbac.v1.RoleRefArgs(
        api_group="rbac.authorization.k8s.io", kind="Role", name=epp), opts=opts)
    # Cluster-scoped, so named after the namespace too (two stacks on one cluster must not share one).
    cluster_name = f"{namespace}-{epp}"
    k8s.rbac.v1.ClusterRole(cluster_name, metadata=meta(cluster_name, namespaced=False), rules=[
        k8s.rbac.v1.PolicyRuleArgs(api_groups=["authentication.k8s.io"], resources=["tokenreviews"], verbs=["create"]),
        k8s.rbac.v1.PolicyRuleArgs(api_groups=["authorization.k8s.io"], resources=["subjectaccessreviews"], verbs=["create"]),
    ], opts=opts)
    k8s.rbac.v1.ClusterRoleBinding(cluster_name, metadata=meta(cluster_name, namespaced=False), subjects=[subject],
                                   role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io",
                                                                    kind="ClusterRole", name=cluster_name), opts=opts)

    # --- the endpoint picker ------------------------------------------------------------------------
    token_volume, token_mount = service_account_token_volume("epp-token")
    grpc_health = ProbeArgs(grpc={"port": EPP_HEALTH_PORT, "service": "inference-extension"},
                            initial_delay_seconds=5, period_seconds=10)
    container = ContainerArgs(
        name="epp", image=image("gaie-epp").ref, image_pull_policy="IfNotPresent",
        args=epp_args(pool, namespace),
        ports=[ContainerPortArgs(name="grpc", container_port=EPP_GRPC_PORT, protocol="TCP"),
               ContainerPortArgs(name="grpc-health", container_port=EPP_HEALTH_PORT, protocol="TCP"),
               ContainerPortArgs(name="metrics", container_port=EPP_METRICS_PORT, protocol="TCP")],
        volume_mounts=[VolumeMountArgs(name="plugins-config", mount_path="/config", read_only=True), token_mount],
        resources=resources("250m", "256Mi", cpu_limit="2", memory_limit="1Gi"),
        security_context=container_security_context(),
        liveness_probe=grpc_health,
        readiness_probe=grpc_health,
    )
    deployment = k8s.apps.v1.Deployment(epp, metadata=meta(epp), spec=k8s.apps.v1.DeploymentSpecArgs(
        replicas=1,  # the chart's default; several need --ha-enable-leader-election and a Lease Role (not built)
        selector=LabelSelectorArgs(match_labels=selector),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=ObjectMetaArgs(labels=labels),
            spec=restricted_pod_spec(
                service_account_name=epp, containers=[container],
                volumes=[VolumeArgs(name="plugins-config", config_map={"name": epp, "default_mode": 0o444}), token_volume],
                # "should mirror the longest grace period of the pods within the pool" (epp-deployment.yaml:19-20)
                termination_grace_period_seconds=130,
            ),
        ),
    ), opts=opts)
    epp_service = k8s.core.v1.Service(epp, metadata=meta(epp), spec=k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP", selector=selector,
        ports=[k8s.core.v1.ServicePortArgs(name="grpc-ext-proc", port=EPP_GRPC_PORT, target_port=EPP_GRPC_PORT, protocol="TCP"),
               k8s.core.v1.ServicePortArgs(name="http-metrics", port=EPP_METRICS_PORT, target_port=EPP_METRICS_PORT, protocol="TCP")],
    ), opts=opts)
    k8s.networking.v1.NetworkPolicy(epp, metadata=meta(epp), spec=network_policy_spec(
        selector,
        # The Gateway's data plane calls the EPP (ext-proc) for every request; nothing else reaches it.
        ingress=[ingress_from_pods(data_plane, [EPP_GRPC_PORT], namespace_labels=data_plane_ns)],
        egress=[egress_to_pods([server_selector], [WORKER_PORT]),  # scrapes its pool's /metrics
                egress_api_server(ctx.cluster.api_server_cidrs)],  # watches pods, its pool, objectives
    ), opts=opts)

    # --- the pool ------------------------------------------------------------------------------------
    declared = json.dumps({"podLabels": dict(gaie.data_plane.pod_labels), "namespaceLabels": data_plane_ns},
                          sort_keys=True)
    pool_labels = standard_labels("inference-pool", service, "inference-pool", GAIE_VERSION, ctx.part_of)
    k8s.apiextensions.CustomResource(pool, api_version=f"{POOL_GROUP}/v1", kind="InferencePool",
                                     metadata=ObjectMetaArgs(name=pool, namespace=namespace, labels=pool_labels,
                                                             annotations={DATA_PLANE_ANNOTATION: declared}),
                                     spec={
                                         "targetPorts": [{"number": WORKER_PORT}],
                                         "selector": {"matchLabels": dict(server_selector)},
                                         "endpointPickerRef": {"name": epp, "port": {"number": EPP_GRPC_PORT}},
                                     },
                                     opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                                         depends_on=[deployment, epp_service])))
    return pool
