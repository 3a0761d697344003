"""VllmService availability and autoscaling: PodDisruptionBudget, KEDA ScaledObject or HPA v2.

The signal is queue depth, ``vllm:num_requests_waiting`` (CPU utilization says little
about a GPU server):

* ``cluster.keda``: a KEDA ``ScaledObject`` with a prometheus trigger on
  ``sum(vllm:num_requests_waiting{namespace="<ns>",model_name="<served>"})`` (the namespace
  matcher keeps stacks that serve the same model name apart on a shared Prometheus);
  optional scale to zero with an activation trigger. KEDA has two phases: *activation*
  (0 <-> 1 replica, decided by KEDA itself when a trigger's value exceeds its
  ``activationThreshold``) and *scaling* (1 <-> N, the HPA on ``value / threshold``). The
  activation trigger only wakes the service: ``activationThreshold: 0`` (any request) and a
  ``threshold`` so high that the HPA never asks it for more than one replica; the queue
  depth drives everything above one.
* otherwise: an ``autoscaling/v2`` HPA on the ``Pods`` metric
  ``vllm_num_requests_waiting``, which needs prometheus-adapter with the rule in
  docs/vllm.md (Prometheus metric names with ':' are renamed for the metrics API).

No autoscaler is created when ``maxReplicas == replicas`` and scale-to-zero is off.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components.context import StackContext
from components.vllm.args import VllmServiceArgs

__all__ = ["QUEUE_METRIC", "HPA_METRIC", "WAKE_ONLY_THRESHOLD", "queue_query", "autoscaling"]

QUEUE_METRIC = "vllm:num_requests_waiting"
HPA_METRIC = "vllm_num_requests_waiting"
WAKE_ONLY_THRESHOLD = "1000000000"
"""HPA target of the activation trigger: ceil(value / 1e9) is 1 for any realistic request rate, so the
trigger contributes at most one replica in the scaling phase (the HPA takes the max over triggers)."""


def queue_query(served_name: str, namespace: str) -> str:
    return f'sum({QUEUE_METRIC}{{namespace="{namespace}",model_name="{served_name}"}})'


def autoscaling(
    args: VllmServiceArgs,
    ctx: StackContext,
    *,
    labels: dict[str, str],
    selector: dict[str, str],
    deployment_name: str,
    opts: pulumi.ResourceOptions,
) -> None:
    """Create the PDB (always) and the autoscaler (when the replica range allows scaling)."""
    name, namespace = args.name, ctx.namespace
    meta = ObjectMetaArgs(name=name, namespace=namespace, labels=labels)
    # maxUnavailable 1: drains never take more than one replica, and a single replica can still be evicted.
    k8s.policy.v1.PodDisruptionBudget(
        name,
        metadata=meta,
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1, selector=LabelSelectorArgs(match_labels=selector)
        ),
        opts=opts,
    )
    maximum = args.max_replicas_resolved
    if maximum == args.replicas and not args.scale_to_zero:
        return
    if ctx.cluster.keda:
        server = args.prometheus_server(ctx)
        triggers = [{
            "type": "prometheus",
            "name": "queue-depth",
            "metadata": {
                "serverAddress": server,
                "query": queue_query(args.served_name, namespace),
                "threshold": str(args.queue_target),
                "activationThreshold": "0",
                "ignoreNullValues": "true",
            },
        }]
        if args.scale_to_zero:
            triggers.append({
                "type": "prometheus",
                "name": "activation",
                # wake from 0 when the query is > 0; never drive the replica count (see module docstring)
                "metadata": {"serverAddress": server, "query": args.activation_query,
                             "threshold": WAKE_ONLY_THRESHOLD, "activationThreshold": "0",
                             "ignoreNullValues": "true"},
            })
        k8s.apiextensions.CustomResource(
            name,
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata=meta,
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment_name},
                "minReplicaCount": 0 if args.scale_to_zero else args.replicas,
                "maxReplicaCount": maximum,
                "pollingInterval": 15,
                # GPU pods take minutes to start: scale down slowly.
                "cooldownPeriod": 600,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _behavior()}},
                "triggers": triggers,
            },
            opts=opts,
        )
        return
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        name,
        metadata=meta,
        spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
            scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                api_version="apps/v1", kind="Deployment", name=deployment_name
            ),
            min_replicas=args.replicas,
            max_replicas=maximum,
            metrics=[k8s.autoscaling.v2.MetricSpecArgs(
                type="Pods",
                pods=k8s.autoscaling.v2.PodsMetricSourceArgs(
                    metric=k8s.autoscaling.v2.MetricIdentifierArgs(name=HPA_METRIC),
                    target=k8s.autoscaling.v2.MetricTargetArgs(type="AverageValue", average_value=str(args.queue_target)),
                ),
            )],
            behavior=_behavior(),
        ),
        opts=opts,
    )


def _behavior() -> dict[str, Any]:
    """Scale up one pod a minute at most (each needs a GPU); scale down after 10 quiet minutes."""
    return {
        "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        "scaleDown": {"stabilizationWindowSeconds": 600, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]},
    }
