"""The canary of a VllmService behind the ModelGateway (``canary: <percent>`` + ``canaryRevision: <sha>``).

The stable Deployment keeps serving ``revision``; beside it:

* the canary revision's own cache: PVC ``<name>-cache-<key>`` and fill Job ``<name>-fill-<key>``, the very names
  and inputs the stable revision will have once the canary is promoted (``revision: <canary sha>``, canary
  removed), so promotion re-uses the filled, verified cache instead of downloading again;
* Deployment ``<name>-canary``: one replica of the same server with ``--revision <canary sha>`` and the same
  served model name, pods labelled ``app.kubernetes.io/instance: <name>-canary`` (so no selector of the stable
  Deployment, Service, PodDisruptionBudget or autoscaler picks them up) and ``slm-deploy.io/track: canary``;
  ``Recreate`` (while its one pod restarts, the gateway sends the canary share to the stable revision);
* NetworkPolicy ``<name>-canary``: in from the gateway and Prometheus on 8000 only, out DNS only (as the stable
  pods; CKV_SLM_030/031).

The gateway (components/gateway) runs a second router that discovers only ``track=canary`` pods, and its proxy
sends the stated percentage of the model's requests there (docs/lifecycle.md, "Canary").
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import PersistentVolumeClaimVolumeSourceArgs, PodTemplateSpecArgs, VolumeArgs, VolumeMountArgs
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components.context import StackContext
from components.hardening import ingress_from_pods, scratch_volume
from components.labels import TRACK_LABEL, selector_labels, standard_labels
from components.versions import image as pinned_image
from components.vllm.args import VllmServiceArgs
from components.vllm.constants import MODEL_DIR, VLLM_PORT
from components.vllm.k8s import APP_NAME, gpu_node_affinity, server_container, serving_network_policy, serving_pod_spec
from components.vllm.lifecycle import cache_plan, cache_pvc, fill_job

__all__ = ["build_canary", "canary_name"]


def canary_name(name: str) -> str:
    """The canary Deployment's (and its pods' instance label's) name."""
    return f"{name}-canary"


def build_canary(args: VllmServiceArgs, ctx: StackContext, *, stable_labels: dict[str, str],
                 stable_selector: dict[str, str], with_token: bool, scripts: pulumi.Resource,
                 opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    """Create the canary's cache, fill Job, Deployment and NetworkPolicy; returns what a caller waits for."""
    if ctx.gateway is None or args.canary is None:
        raise ValueError(f"{args.name}: a canary needs the ModelGateway (StackContext.gateway) and canary + canaryRevision")
    canary = args.canary_args()
    name = canary_name(args.name)
    img = pinned_image(args.image)
    cluster = ctx.cluster

    # The cache exactly as the stable revision will have it after promotion (same names, labels and inputs).
    cache = cache_plan(canary, ctx)
    pvc = cache_pvc(canary, ctx, cache, stable_labels, opts)
    job = fill_job(canary, ctx, cache, server_selector=stable_selector, with_token=with_token,
                   gpu_affinity=gpu_node_affinity(cluster.gpu_node_label, args.gpu),
                   scripts_config_map=f"{args.name}-lifecycle",
                   opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[pvc, scripts])))

    labels = {**standard_labels(APP_NAME, name, "model-server", img.tag, ctx.part_of), TRACK_LABEL: "canary"}
    selector = selector_labels(APP_NAME, name)
    meta = ObjectMetaArgs(name=name, namespace=ctx.namespace, labels=labels)
    shm_vol, shm_mount = scratch_volume("dshm", "/dev/shm", size_limit=f"{args.shm_gib}Gi", memory=True)
    tmp_vol, tmp_mount = scratch_volume("vllm-tmp", "/tmp", size_limit="8Gi")
    cache_vol = VolumeArgs(name="model-cache", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(
        claim_name=cache.claim, read_only=True))
    server = server_container(canary, img.ref, behind_proxy=False,
                              mounts=[VolumeMountArgs(name="model-cache", mount_path=MODEL_DIR, read_only=True),
                                      shm_mount, tmp_mount])
    deployment = k8s.apps.v1.Deployment(
        name, metadata=meta,
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,
            selector=LabelSelectorArgs(match_labels=selector),
            strategy={"type": "Recreate"},
            template=PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=labels),
                spec=serving_pod_spec(args, ctx, [server], [cache_vol, shm_vol, tmp_vol], selector),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[pvc, job])),
    )
    gateway, scraper = ctx.gateway, args.scraper(ctx)
    policy = serving_network_policy(name, meta, selector, [
        ingress_from_pods([gateway.pod_labels], [VLLM_PORT], namespace_labels=gateway.namespace_labels),
        ingress_from_pods([scraper.pod_labels], [VLLM_PORT], namespace_labels=scraper.namespace_labels),
    ], opts)
    return [deployment, policy]
