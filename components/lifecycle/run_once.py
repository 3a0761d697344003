"""The one Job shape of the lifecycle steps (cache fill, verification, benchmark): a pod that runs to completion
once, under the restricted pod spec, with a hard deadline that ``pulumi up`` waits for (plus a margin)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ContainerArgs, PodTemplateSpecArgs, VolumeArgs
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.hardening import restricted_pod_spec

__all__ = ["run_once_job"]


def run_once_job(
    name: str,
    metadata: ObjectMetaArgs,
    labels: dict[str, str],
    *,
    containers: Sequence[ContainerArgs],
    volumes: Sequence[VolumeArgs],
    deadline_seconds: int,
    wait_margin_seconds: int,
    backoff_limit: int = 0,
    init_containers: Sequence[ContainerArgs] | None = None,
    pod_spec: dict[str, Any] | None = None,
    pod_annotations: dict[str, str] | None = None,
    opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.Job:
    """A Job ``name`` whose pod (labelled ``labels``) runs ``containers`` once (``backoff_limit`` retries) and is
    stopped after ``deadline_seconds``; Pulumi waits for it up to the deadline plus ``wait_margin_seconds`` (the
    time to schedule and pull). ``pod_spec`` adds pod fields (service account, placement); ``pod_annotations``
    the pod template's annotations (e.g. the external Secrets it mounts, for the gate)."""
    wait = f"{deadline_seconds + wait_margin_seconds}s"
    return k8s.batch.v1.Job(
        name,
        metadata=metadata,
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=backoff_limit,
            active_deadline_seconds=deadline_seconds,
            template=PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=labels, annotations=pod_annotations or None),
                spec=restricted_pod_spec(
                    restart_policy="Never",
                    init_containers=list(init_containers) if init_containers else None,
                    containers=list(containers),
                    volumes=list(volumes),
                    **(pod_spec or {}),
                ),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            custom_timeouts=pulumi.CustomTimeouts(create=wait, update=wait))),
    )
