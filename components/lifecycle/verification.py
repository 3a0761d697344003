"""Post-deploy verification: the smoke Job per endpoint and the lifecycle scripts ConfigMap.

The smoke Job runs ``smoke_check.py`` (``components/lifecycle/scripts``) in the pinned python-slim image after
the serving resources are ready (``depends_on`` the Deployment, Service and NetworkPolicy, which
pulumi-kubernetes awaits): ``GET /v1/models`` and one short chat completion through the authenticating
proxy, with the client key read from the mounted API-key Secret. A failure fails the Job, so ``pulumi up``
fails, and the Job's log says why. The Job is named by a hash of what it tests (the serving pod spec), so a
new rollout runs a new smoke Job; the previous one is deleted at the end of that update.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ContainerArgs, EnvVarArgs, VolumeArgs, VolumeMountArgs
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.hardening import (
    container_security_context,
    egress_to_pods,
    network_policy_spec,
    resources,
    secret_file_volume,
)
from components.labels import selector_labels, standard_labels
from components.lifecycle.cache_fill import SCRIPTS_MOUNT, scripts_volume
from components.lifecycle.run_once import run_once_job
from components.lifecycle.scripts import script_text
from components.versions import image as pinned_image

__all__ = ["Endpoint", "lifecycle_scripts", "smoke_selector", "smoke_job", "spec_key", "SMOKE_WAIT_SECONDS", "CLIENT_KEY_FILE",
           "client_key_file"]

SMOKE_WAIT_SECONDS = 300
"""How long the smoke script keeps retrying connection errors and 502/503/504 (a Service can lag behind a
Deployment that just became ready)."""

_KEY_DIR = "/etc/slm-deploy/client-key"
CLIENT_KEY_FILE = f"{_KEY_DIR}/api-key"
"""Where the smoke and benchmark Jobs read the client key (:func:`client_key_file`)."""


def client_key_file(secret: tuple[str, str]) -> tuple[VolumeArgs, VolumeMountArgs]:
    """The client key, (Secret name, key), mounted read-only as :data:`CLIENT_KEY_FILE` (volume ``client-key``)."""
    name, item = secret
    return secret_file_volume("client-key", name, _KEY_DIR, items={item: "api-key"})


@dataclass(frozen=True)
class Endpoint:
    """The authenticating endpoint the smoke and benchmark Jobs call, exactly as a client does.

    A VllmService on its own: its auth proxy (Service port 8080, the service's API-key Secret). Behind a
    ModelGateway: the gateway (its Service, the gateway's ``slm-verify`` client key); the model servers then
    admit only the gateway and Prometheus, and the Jobs reach the model only through the gateway.
    """

    base_url: str
    """``http://<service>.<namespace>.svc.cluster.local:<port>``, without ``/v1``."""
    pod_selector: dict[str, str]
    """Labels of the pods behind it: the Jobs' NetworkPolicies let them reach exactly these, on ``port``."""
    port: int
    key_secret: tuple[str, str] | None
    """(Secret name, key) of the client key, mounted into the Jobs as a file; None: no authentication."""
    ready: list[pulumi.Resource] = field(default_factory=list)
    """Resources of the endpoint the Jobs wait for besides the model server's (the gateway's Deployment ...)."""


def spec_key(*parts: Any) -> str:
    """8 hex of a hash over ``parts`` (JSON): names a Job after what it tests."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


def lifecycle_scripts(name: str, namespace: str, labels: dict[str, str], scripts: Sequence[str],
                      opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap:
    """ConfigMap ``<name>-lifecycle`` holding the scripts the lifecycle Jobs run (mounted at /opt/slm-deploy)."""
    return k8s.core.v1.ConfigMap(
        f"{name}-lifecycle",
        metadata=ObjectMetaArgs(name=f"{name}-lifecycle", namespace=namespace, labels=labels),
        data={s: script_text(s) for s in scripts},
        opts=opts,
    )


def smoke_selector(app: str, instance: str) -> dict[str, str]:
    """Labels of the smoke pods: the serving NetworkPolicy admits them on the API port."""
    return selector_labels(f"{app}-smoke", instance)


def smoke_job(
    *,
    app: str,
    instance: str,
    namespace: str,
    part_of: str,
    key: str,
    base_url: str,
    models: Sequence[str],
    api_key_secret: tuple[str, str] | None,
    server_selector: dict[str, str],
    server_port: int | str,
    scripts_config_map: str,
    opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.Job:
    """A smoke Job (and its NetworkPolicy) for one endpoint; ``opts`` must depend on the serving resources.

    ``api_key_secret`` is (Secret name, key) of the client key; None for an endpoint without authentication
    (the script then also skips the "unauthenticated request is refused" check).
    """
    img = pinned_image("python-slim")
    name = f"{instance}-smoke-{key}"
    labels = standard_labels(f"{app}-smoke", instance, "smoke-test", img.tag, part_of)
    meta = ObjectMetaArgs(name=name, namespace=namespace, labels=labels)
    argv = ["python3", f"{SCRIPTS_MOUNT}/smoke_check.py", "--base-url", base_url, "--wait", str(SMOKE_WAIT_SECONDS)]
    for model in models:
        argv += ["--model", model]
    scripts, scripts_mount = scripts_volume(scripts_config_map)
    volumes, mounts = [scripts], [scripts_mount]
    if api_key_secret is not None:
        vol, mount = client_key_file(api_key_secret)
        volumes.append(vol)
        mounts.append(mount)
        argv += ["--key-file", CLIENT_KEY_FILE]
    budget = SMOKE_WAIT_SECONDS + 2 * 120 * (len(models) + 1)
    job = run_once_job(
        name, meta, labels,
        containers=[ContainerArgs(
            name="smoke",
            image=img.ref,
            image_pull_policy="IfNotPresent",
            command=argv[:1],
            args=argv[1:],
            env=[EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1")],
            volume_mounts=mounts,
            resources=resources("50m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
            security_context=container_security_context(),
        )],
        volumes=volumes, deadline_seconds=budget, wait_margin_seconds=120, opts=opts,
    )
    k8s.networking.v1.NetworkPolicy(
        name,
        metadata=meta,
        spec=network_policy_spec(smoke_selector(app, instance), ingress=[],
                                 egress=[egress_to_pods([server_selector], [server_port])]),
        opts=opts,
    )
    return job
