"""The cache-fill Job: the only pod of a serving component that reaches the internet.

One Job per model and revision writes the model into its cache volume (a PVC keyed by the revision),
verifies it, and exits. The serving Deployment ``depends_on`` the Job: pulumi-kubernetes waits for a Job's
``Complete`` condition (and fails on ``Failed``) before it creates anything that depends on it, with a
default await of 10 minutes (pulumi_kubernetes 4.34.2 ``batch/v1/Job.py`` docstring: "If the Job has not
reached a Ready state after 10 minutes, it will time out ... override ... by setting the 'customTimeouts'
option"). A model download takes longer, so every Job carries ``customTimeouts`` derived from its size,
a little above its own ``activeDeadlineSeconds``: the Job fails first, with its reason in the log.

The Job's own NetworkPolicy admits nothing in and lets out only DNS and TCP to the download source:
public addresses on 443 (the hub and its CDN) or the CIDRs a private mirror / bucket declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import (
    ContainerArgs,
    EnvVarArgs,
    PersistentVolumeClaimVolumeSourceArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import IPBlockArgs, NetworkPolicyEgressRuleArgs, NetworkPolicyPeerArgs, NetworkPolicyPortArgs

from components.hardening import (
    container_security_context,
    egress_public,
    network_policy_spec,
    resources,
    scratch_volume,
    secret_file_volume,
)
from components.base import EXTERNAL_SECRETS_ANNOTATION
from components.labels import selector_labels, standard_labels
from components.lifecycle.run_once import run_once_job

__all__ = ["FillStep", "CacheFill", "cache_fill_job", "cache_claim", "fill_deadline_seconds", "SCRIPTS_MOUNT", "scripts_volume", "revision_key",
           "source_egress"]

SCRIPTS_MOUNT = "/opt/slm-deploy"
"""Where lifecycle pods mount the scripts ConfigMap (``components/lifecycle/scripts``)."""


def scripts_volume(config_map: str) -> tuple[VolumeArgs, VolumeMountArgs]:
    """The lifecycle scripts ConfigMap (files read-only, 0444) mounted read-only at :data:`SCRIPTS_MOUNT`."""
    return (VolumeArgs(name="scripts", config_map={"name": config_map, "default_mode": 0o444}),
            VolumeMountArgs(name="scripts", mount_path=SCRIPTS_MOUNT, read_only=True))

_GiB = 1024**3


def revision_key(revision: str) -> str:
    """The short, DNS-safe key a revision's cache and Job are named by (the first 12 hex of the sha)."""
    return revision[:12].lower()


def fill_deadline_seconds(download_bytes: int) -> int:
    """``activeDeadlineSeconds`` of a fill Job: 15 min + 60 s per GiB (a 20 MB/s floor incl. hashing)."""
    return 900 + 60 * max(1, -(-download_bytes // _GiB))


@dataclass(frozen=True)
class FillStep:
    """One step of the Job (run in order; the last is the Job's main container)."""

    name: str
    argv: list[str]
    image: str | None = None
    """Image of this step. Default None: the Job's image."""
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CacheFill:
    """Everything one cache-fill Job needs (see :func:`cache_fill_job`)."""

    app: str
    """``app.kubernetes.io/name`` of the serving component (vllm, ollama, onnx-edge); the Job is ``<app>-cache-fill``."""
    instance: str
    job_name: str
    namespace: str
    part_of: str
    image: str
    version: str
    steps: list[FillStep]
    claim: str
    """The cache PVC the Job writes."""
    mount_path: str
    env: dict[str, str]
    download_bytes: int
    egress: list[NetworkPolicyEgressRuleArgs]
    scripts_config_map: str | None = None
    secret_files: list[tuple[str, str, str, dict[str, str] | None]] = field(default_factory=list)
    external_secrets: list[str] = field(default_factory=list)
    """Secrets of ``secret_files`` the user creates (a CA bundle, S3 credentials): declared on the pod for the gate."""
    """(volume name, Secret name, mount path, items) mounted read-only into every step."""
    extra_volumes: list[tuple[VolumeArgs, VolumeMountArgs]] = field(default_factory=list)
    """(volume, mount) pairs every step gets besides the cache, /tmp, the scripts and the secret files."""
    cpu: str = "500m"
    memory: str = "1Gi"
    memory_limit: str = "2Gi"
    tmp_size: str = "1Gi"
    pod_spec_extra: dict = field(default_factory=dict)
    """Placement (affinity, tolerations) for the Job's pod."""

    @property
    def selector(self) -> dict[str, str]:
        return selector_labels(f"{self.app}-cache-fill", self.instance)

    @property
    def labels(self) -> dict[str, str]:
        return standard_labels(f"{self.app}-cache-fill", self.instance, "cache-fill", self.version, self.part_of)

    @property
    def deadline(self) -> int:
        return fill_deadline_seconds(self.download_bytes)


def cache_fill_job(fill: CacheFill, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
    """The Job (and its NetworkPolicy); pass the returned Job to the Deployment's ``depends_on``."""
    meta = ObjectMetaArgs(name=fill.job_name, namespace=fill.namespace, labels=fill.labels)
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp", size_limit=fill.tmp_size)
    volumes = [VolumeArgs(name="cache", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(claim_name=fill.claim)),
               tmp_volume]
    mounts = [VolumeMountArgs(name="cache", mount_path=fill.mount_path), tmp_mount]
    if fill.scripts_config_map:
        vol, mount = scripts_volume(fill.scripts_config_map)
        volumes.append(vol)
        mounts.append(mount)
    for vol, mount in fill.extra_volumes:
        volumes.append(vol)
        mounts.append(mount)
    for vol_name, secret, path, items in fill.secret_files:
        vol, mount = secret_file_volume(vol_name, secret, path, items=items)
        volumes.append(vol)
        mounts.append(mount)

    def container(step: FillStep) -> ContainerArgs:
        env = {**fill.env, **step.env}
        return ContainerArgs(
            name=step.name,
            image=step.image or fill.image,
            image_pull_policy="IfNotPresent",
            command=step.argv[:1],
            args=step.argv[1:],
            env=[EnvVarArgs(name=k, value=v) for k, v in env.items()],
            volume_mounts=mounts,
            resources=resources(fill.cpu, fill.memory, cpu_limit="2", memory_limit=fill.memory_limit),
            security_context=container_security_context(),
        )

    *init, main = fill.steps
    job = run_once_job(
        fill.job_name, meta, fill.labels,
        init_containers=[container(s) for s in init], containers=[container(main)], volumes=volumes,
        deadline_seconds=fill.deadline, wait_margin_seconds=300, backoff_limit=2, pod_spec=fill.pod_spec_extra,
        pod_annotations={EXTERNAL_SECRETS_ANNOTATION: ",".join(sorted(set(fill.external_secrets)))} if fill.external_secrets else None,
        opts=opts,
    )
    k8s.networking.v1.NetworkPolicy(
        fill.job_name,
        metadata=meta,
        spec=network_policy_spec(fill.selector, ingress=[], egress=fill.egress),
        opts=opts,
    )
    return job


def cache_claim(name: str, namespace: str, labels: dict[str, str], *, size: str, rwx: bool, storage_class: str | None,
                rwx_storage_class: str | None, opts: pulumi.ResourceOptions) -> k8s.core.v1.PersistentVolumeClaim:
    """A cache PVC a fill Job writes and serving pods mount read-only: ReadWriteMany on ``rwx_storage_class``
    when pods on several nodes read it, else ReadWriteOnce (readers share one node) on ``storage_class``."""
    return k8s.core.v1.PersistentVolumeClaim(
        name, metadata=ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteMany" if rwx else "ReadWriteOnce"],
            storage_class_name=rwx_storage_class if rwx else storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size}),
        ),
        opts=opts,
    )


def source_egress(ports: Sequence[int], cidrs: Sequence[str], also_except: Sequence[str]) -> list[NetworkPolicyEgressRuleArgs]:
    """Egress of a fill Job: ``ports`` to ``cidrs`` when a private source declares them, else to public addresses."""
    if cidrs:
        return [NetworkPolicyEgressRuleArgs(
            to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr=c)) for c in cidrs],
            ports=[NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports])]
    return [egress_public(ports, also_except=also_except)]
