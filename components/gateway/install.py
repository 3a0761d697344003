"""The router install Job: the gateway's only pod that reaches the internet (issue 15: serving and proxy pods get
no internet egress; downloads run in separate Jobs).

No digest of an upstream vllm-router image can be verified from here (docs/gateway.md, "Image pin"), so the
router is the hash-locked PyPI release (``files/router-requirements.txt``). It is installed the way model caches
are filled (:mod:`components.lifecycle.cache_fill`):

* a PVC ``<gateway>-router-<key>`` (``key``: the first 12 hex of the requirements file's SHA-256), so a router
  bump gets a new volume and a new Job, and the old ones leave with the old program (the cache reclaim rule);
* the Job ``<gateway>-router-install-<key>`` runs ``pip install --require-hashes --only-binary :all:`` in the
  pinned python-slim image into a staging directory on that volume (pip refuses any file whose SHA-256 is not in
  the requirements file), imports the router's native module from it, and only then moves it to ``site/`` and
  writes the key to ``.installed``: a re-run on a filled volume installs nothing, a half-written staging
  directory is never used;
* its NetworkPolicy: DNS plus TCP 443 to public addresses only (:func:`components.hardening.egress_public`,
  minus the cluster's declared API-server addresses);
* the gateway Deployment ``depends_on`` the PVC and the Job (pulumi-kubernetes waits for ``Complete``) and
  mounts the volume read-only.

Access mode: with ``cluster.rwxStorageClass`` the volume is ReadWriteMany and the gateway replicas spread over
nodes; without one it is ReadWriteOnce, which only pods on one node can mount at once, so the gateway pods are
placed together on one node (required pod affinity to each other; see :func:`gateway_placement`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import (
    AffinityArgs,
    PodAffinityArgs,
    PodAffinityTermArgs,
    PodAntiAffinityArgs,
    VolumeArgs,
    VolumeMountArgs,
    WeightedPodAffinityTermArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs

from components.context import StackContext
from components.gateway.constants import APP_NAME, ROUTER_VERSION
from components.hardening import egress_public
from components.labels import standard_labels
from components.lifecycle.cache_fill import CacheFill, FillStep, cache_claim, cache_fill_job
from components.versions import image

__all__ = ["ROUTER_MOUNT", "ROUTER_SITE", "INSTALL_SCRIPT", "RouterInstall", "install_argv", "install_key", "router_install",
           "gateway_placement"]

ROUTER_MOUNT = "/opt/router"
"""Where the install volume is mounted: read-write in the Job, read-only in the gateway pods."""
ROUTER_SITE = f"{ROUTER_MOUNT}/site"
"""The verified install (the router container's PYTHONPATH)."""
REQUIREMENTS_PATH = "/etc/gateway/router-requirements.txt"

INSTALL_SCRIPT = """\
set -eu
want="$1" root="$2" requirements="$3"
if [ "$(cat "$root/.installed" 2>/dev/null || true)" = "$want" ] && [ -d "$root/site" ]; then
  echo "router-install: present: $want (not installed again)"
  exit 0
fi
rm -rf "$root/.staging" "$root/site" "$root/.installed"
python3 -m pip install --no-cache-dir --disable-pip-version-check --no-input --require-hashes --only-binary :all: \\
  --target "$root/.staging" -r "$requirements"
PYTHONPATH="$root/.staging" python3 -c 'import vllm_router_rs, vllm_router.launch_router'
mv "$root/.staging" "$root/site"
printf '%s\\n' "$want" > "$root/.installed"
echo "router-install: installed $want"
"""
"""The Job's one step: ``sh -c SCRIPT router-install <key> <volume root> <requirements file>``. pip verifies every
file against the requirements' hashes; the router's native module must import before the install is published
(``site/`` and the ``.installed`` marker), so a failed or interrupted run leaves nothing the gateway would use."""


def install_argv(key: str, root: str = ROUTER_MOUNT, requirements: str = REQUIREMENTS_PATH) -> list[str]:
    """The Job's command line (the tests run the same one with their own paths)."""
    return ["/bin/sh", "-c", INSTALL_SCRIPT, "router-install", key, root, requirements]


def install_key(requirements: str) -> str:
    """The key a router install is named by: the first 12 hex of the requirements file's SHA-256."""
    return hashlib.sha256(requirements.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class RouterInstall:
    """The filled volume the gateway pods mount, and what they wait for."""

    claim: str
    key: str
    rwx: bool
    ready: list[pulumi.Resource]
    """PVC and Job: the Deployment ``depends_on`` them."""

    def volume(self) -> tuple[VolumeArgs, VolumeMountArgs]:
        """The install volume, read-only (claim and mount)."""
        return (VolumeArgs(name="router", persistent_volume_claim={"claim_name": self.claim, "read_only": True}),
                VolumeMountArgs(name="router", mount_path=ROUTER_MOUNT, read_only=True))


def router_install(name: str, ctx: StackContext, *, requirements: str, files_config_map: k8s.core.v1.ConfigMap,
                   gateway_selector: dict[str, str], opts: pulumi.ResourceOptions) -> RouterInstall:
    """The install PVC and Job of the requirements in ``files_config_map`` (key ``router-requirements.txt``)."""
    key = install_key(requirements)
    rwx = bool(ctx.cluster.rwx_storage_class)
    claim = f"{name}-router-{key}"
    labels = standard_labels(APP_NAME, name, "router-install", ROUTER_VERSION, ctx.part_of)
    pvc = cache_claim(claim, ctx.namespace, labels, size="1Gi", rwx=rwx, storage_class=ctx.cluster.storage_class,
                      rwx_storage_class=ctx.cluster.rwx_storage_class, opts=opts)
    python = image("python-slim")
    requirements_volume = (
        VolumeArgs(name="requirements", config_map={"name": files_config_map.metadata.name, "default_mode": 0o444,
                                                    "items": [{"key": "router-requirements.txt",
                                                               "path": "router-requirements.txt"}]}),
        VolumeMountArgs(name="requirements", mount_path="/etc/gateway", read_only=True),
    )
    # With a ReadWriteOnce volume, a re-run of the Job prefers the node where the gateway pods already mount it.
    placement = {} if rwx else {"affinity": AffinityArgs(pod_affinity=PodAffinityArgs(
        preferred_during_scheduling_ignored_during_execution=[WeightedPodAffinityTermArgs(
            weight=100, pod_affinity_term=PodAffinityTermArgs(
                label_selector=LabelSelectorArgs(match_labels=gateway_selector), topology_key="kubernetes.io/hostname"))]))}
    fill = CacheFill(
        app=APP_NAME, instance=name, job_name=f"{name}-router-install-{key}", namespace=ctx.namespace,
        part_of=ctx.part_of, image=python.ref, version=ROUTER_VERSION,
        steps=[FillStep("router-install", install_argv(key))],
        claim=claim, mount_path=ROUTER_MOUNT, env={"HOME": "/tmp", "PIP_NO_CACHE_DIR": "1"},
        download_bytes=256 * 1024**2,
        egress=[egress_public([443], also_except=ctx.cluster.api_server_cidrs)],
        extra_volumes=[requirements_volume], cpu="250m", memory="256Mi", memory_limit="1Gi", tmp_size="1Gi",
        pod_spec_extra=placement,
    )
    job = cache_fill_job(fill, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[pvc, files_config_map])))
    return RouterInstall(claim, key, rwx, [pvc, job])


def gateway_placement(selector: dict[str, str], rwx: bool) -> AffinityArgs:
    """Where the gateway pods run. ReadWriteMany install: spread over nodes (preferred anti-affinity), so
    replicas survive a node. ReadWriteOnce: together on one node (required affinity to each other; the first pod
    is free to go anywhere, Kubernetes admits a pod whose term matches only itself), since a ReadWriteOnce volume
    is attached to one node at a time: replicas and surge rollouts stay up, a node failure takes the gateway down
    until the volume re-attaches elsewhere (docs/gateway.md)."""
    term = PodAffinityTermArgs(label_selector=LabelSelectorArgs(match_labels=selector), topology_key="kubernetes.io/hostname")
    if rwx:
        return AffinityArgs(pod_anti_affinity=PodAntiAffinityArgs(
            preferred_during_scheduling_ignored_during_execution=[WeightedPodAffinityTermArgs(weight=100, pod_affinity_term=term)]))
    return AffinityArgs(pod_affinity=PodAffinityArgs(required_during_scheduling_ignored_during_execution=[term]))
