"""Shared hardening: the one place the secure pod/container defaults are written, Kubernetes and Docker.

Every component builds its pods and containers from these helpers, so a fix here reaches all of
them. The Kubernetes defaults pass Pod Security Admission "restricted" and checkov's
Kubernetes checks:

* non-root, UID/GID >= 10000, ``seccompProfile: RuntimeDefault``;
* ``allowPrivilegeEscalation: false``, read-only root filesystem, ``capabilities.drop: [ALL]``;
* no service-account token in the pod (``automountServiceAccountToken: false``);
* CPU and memory requests *and* limits;
* writable paths only as size-limited ``emptyDir`` volumes.

The Docker defaults (:func:`docker_container_hardening`) are their twin on one host: read-only root,
``cap_drop: [ALL]``, ``no-new-privileges``, never privileged; the compose checks (policies/compose)
judge the same fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_kubernetes.core.v1 import (
    CapabilitiesArgs,
    EmptyDirVolumeSourceArgs,
    HTTPGetActionArgs,
    PodSecurityContextArgs,
    PodSpecArgs,
    ProbeArgs,
    ResourceRequirementsArgs,
    SeccompProfileArgs,
    SecretVolumeSourceArgs,
    SecurityContextArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.networking.v1 import (
    IPBlockArgs,
    NetworkPolicyEgressRuleArgs,
    NetworkPolicyIngressRuleArgs,
    NetworkPolicyPeerArgs,
    NetworkPolicyPortArgs,
    NetworkPolicySpecArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs

__all__ = [
    "DEFAULT_UID",
    "pod_security_context",
    "restricted_pod_spec",
    "container_security_context",
    "resources",
    "scratch_volume",
    "secret_file_volume",
    "http_probe",
    "dns_egress",
    "network_policy_spec",
    "ingress_from_pods",
    "egress_to_pods",
    "docker_container_hardening",
    "docker_run_once",
    "service_account_token_volume",
    "NON_PUBLIC_CIDRS",
    "egress_public",
    "PRIVATE_CIDRS",
    "egress_api_server",
]

DEFAULT_UID = 10001
"""UID/GID for every container unless an image needs another one (>= 10000: CKV_K8S_40)."""

_RUNTIME_DEFAULT = SeccompProfileArgs(type="RuntimeDefault")


def pod_security_context(uid: int = DEFAULT_UID) -> PodSecurityContextArgs:
    """Pod-level: non-root, fixed UID/GID, fsGroup for volume ownership, RuntimeDefault seccomp.

    ``fsGroupChangePolicy: OnRootMismatch`` keeps the kubelet from re-chowning every file of a
    large (shared) model cache on each pod start once the volume root is already right.
    """
    return PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=_RUNTIME_DEFAULT,
    )


def restricted_pod_spec(*, uid: int = DEFAULT_UID, **spec: object) -> PodSpecArgs:
    """A pod spec with the pod-level defaults every workload gets: no service-account token in the
    pod and :func:`pod_security_context`. Everything else (containers, volumes, placement) is passed on."""
    return PodSpecArgs(automount_service_account_token=False, security_context=pod_security_context(uid), **spec)


def container_security_context(*, read_only: bool = True, uid: int = DEFAULT_UID) -> SecurityContextArgs:
    """Container-level: no escalation, no capabilities, read-only root unless opted out."""
    return SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=read_only,
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        capabilities=CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=_RUNTIME_DEFAULT,
    )


def resources(
    cpu_request: str,
    memory_request: str,
    *,
    cpu_limit: str | None = None,
    memory_limit: str | None = None,
    extended: dict[str, str] | None = None,
) -> ResourceRequirementsArgs:
    """Requests and limits. Limits default to the requests (Guaranteed QoS).

    ``extended`` holds device resources such as ``{"nvidia.com/gpu": "1"}``; Kubernetes
    requires them to be equal in requests and limits, so they are set on both.
    """
    extended = extended or {}
    return ResourceRequirementsArgs(
        requests={"cpu": cpu_request, "memory": memory_request, **extended},
        limits={"cpu": cpu_limit or cpu_request, "memory": memory_limit or memory_request, **extended},
    )


def scratch_volume(
    name: str, mount_path: str, *, size_limit: str = "1Gi", memory: bool = False, read_only: bool = False
) -> tuple[VolumeArgs, VolumeMountArgs]:
    """A size-limited ``emptyDir`` (``medium: Memory`` when ``memory``) and its mount."""
    source = EmptyDirVolumeSourceArgs(size_limit=size_limit, medium="Memory" if memory else None)
    return (
        VolumeArgs(name=name, empty_dir=source),
        VolumeMountArgs(name=name, mount_path=mount_path, read_only=read_only or None),
    )


def secret_file_volume(
    name: str, secret_name: str, mount_path: str, *, items: dict[str, str] | None = None
) -> tuple[VolumeArgs, VolumeMountArgs]:
    """Mount a Secret as read-only files (mode 0440), never as environment variables."""
    source = SecretVolumeSourceArgs(
        secret_name=secret_name,
        default_mode=0o440,
        items=[{"key": k, "path": p} for k, p in (items or {}).items()] or None,
    )
    return VolumeArgs(name=name, secret=source), VolumeMountArgs(name=name, mount_path=mount_path, read_only=True)


def http_probe(
    path: str,
    port: int | str,
    *,
    period_seconds: int = 10,
    failure_threshold: int = 3,
    timeout_seconds: int = 5,
    initial_delay_seconds: int | None = None,
) -> ProbeArgs:
    """An HTTP GET probe. For start-up, size ``period_seconds * failure_threshold`` to the load time."""
    return ProbeArgs(
        http_get=HTTPGetActionArgs(path=path, port=port),
        period_seconds=period_seconds,
        failure_threshold=failure_threshold,
        timeout_seconds=timeout_seconds,
        initial_delay_seconds=initial_delay_seconds,
    )


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where client-go and controller-runtime read the in-cluster token, CA and namespace."""


def service_account_token_volume(name: str) -> tuple[VolumeArgs, VolumeMountArgs]:
    """The service-account token (1 h, rotated by the kubelet), the cluster CA and the namespace as a projected
    volume, for the one container that calls the Kubernetes API: the pod keeps ``automountServiceAccountToken:
    false``, so no other container of it sees a token."""
    volume = VolumeArgs(name=name, projected={"default_mode": 0o444, "sources": [
        {"service_account_token": {"path": "token", "expiration_seconds": 3600}},
        {"config_map": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downward_api": {"items": [{"path": "namespace", "field_ref": {"field_path": "metadata.namespace"}}]}},
    ]})
    return volume, VolumeMountArgs(name=name, mount_path=SERVICE_ACCOUNT_DIR, read_only=True)


def dns_egress() -> NetworkPolicyEgressRuleArgs:
    """Egress to cluster DNS (kube-dns / CoreDNS in kube-system), UDP and TCP 53."""
    return NetworkPolicyEgressRuleArgs(
        to=[
            NetworkPolicyPeerArgs(
                namespace_selector=LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": "kube-system"}),
                pod_selector=LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[NetworkPolicyPortArgs(protocol="UDP", port=53), NetworkPolicyPortArgs(protocol="TCP", port=53)],
    )


def network_policy_spec(
    selector: dict[str, str],
    *,
    ingress: Sequence[NetworkPolicyIngressRuleArgs],
    egress: Sequence[NetworkPolicyEgressRuleArgs] = (),
) -> NetworkPolicySpecArgs:
    """The spec of every pod's NetworkPolicy: the pods matching ``selector`` are restricted both ways
    (``policyTypes`` Ingress and Egress): in, only what ``ingress`` admits (empty: nothing); out, cluster DNS
    (:func:`dns_egress`, first) and ``egress``."""
    return NetworkPolicySpecArgs(
        pod_selector=LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress", "Egress"],
        ingress=list(ingress),
        egress=[dns_egress(), *egress],
    )


def _peers(selectors: Sequence[dict[str, str]], namespace_labels: dict[str, str] | None) -> list[NetworkPolicyPeerArgs]:
    ns = LabelSelectorArgs(match_labels=namespace_labels) if namespace_labels else None
    return [
        NetworkPolicyPeerArgs(pod_selector=LabelSelectorArgs(match_labels=dict(s)), namespace_selector=ns)
        for s in selectors
    ]


def ingress_from_pods(
    selectors: Sequence[dict[str, str]], ports: Sequence[int | str], *, namespace_labels: dict[str, str] | None = None
) -> NetworkPolicyIngressRuleArgs:
    """Allow ingress on ``ports`` from pods matching any of ``selectors`` (same namespace unless given)."""
    return NetworkPolicyIngressRuleArgs(
        from_=_peers(selectors, namespace_labels),
        ports=[NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports],
    )


def egress_to_pods(
    selectors: Sequence[dict[str, str]], ports: Sequence[int | str], *, namespace_labels: dict[str, str] | None = None
) -> NetworkPolicyEgressRuleArgs:
    """Allow egress on ``ports`` to pods matching any of ``selectors``."""
    return NetworkPolicyEgressRuleArgs(
        to=_peers(selectors, namespace_labels),
        ports=[NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports],
    )


def docker_container_hardening(*, user: str | None = None) -> dict[str, Any]:
    """Keyword arguments of ``pulumi_docker.Container`` every container gets: read-only root filesystem,
    every capability dropped, ``no-new-privileges``, not privileged, and ``user`` (uid:gid) when given.

    Writable paths are tmpfs mounts or volumes, which the caller adds per container.
    """
    import pulumi_docker as docker  # only Docker-target components load the Docker provider SDK

    hardening: dict[str, Any] = {
        "read_only": True,
        "capabilities": docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        "security_opts": ["no-new-privileges:true"],
        "privileged": False,
    }
    if user is not None:
        hardening["user"] = user
    return hardening


def docker_run_once(memory_mib: int = 1024) -> dict[str, Any]:
    """Keyword arguments of a ``pulumi_docker.Container`` that runs once to completion (a model download): never
    restarted, not required to keep running, attached (Pulumi waits for it to exit before creating what depends on
    it), and capped at ``memory_mib`` MiB with no swap beyond it. The Docker twin of
    :func:`components.lifecycle.run_once.run_once_job`; hardening (:func:`docker_container_hardening`) comes on top."""
    return {"memory": memory_mib, "memory_swap": memory_mib, "restart": "no", "must_run": False, "attach": True}


NON_PUBLIC_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")
"""Never reachable through :func:`egress_public`: RFC 1918 (in-cluster Services and pods, the in-cluster
API server address, private endpoints), link-local (cloud metadata 169.254.169.254) and carrier-grade NAT
(RFC 6598, used by some pod networks)."""


def egress_public(ports: Sequence[int] = (443,), *, also_except: Sequence[str] = ()) -> NetworkPolicyEgressRuleArgs:
    """TCP ``ports`` to public IPv4 addresses only: :data:`NON_PUBLIC_CIDRS` and ``also_except`` (e.g. the
    cluster's public API-server endpoint) are excluded. For pods that download (the hub's CDN has no stable CIDR)."""
    return NetworkPolicyEgressRuleArgs(
        to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr="0.0.0.0/0", except_=[*NON_PUBLIC_CIDRS, *also_except]))],
        ports=[NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports],
    )


PRIVATE_CIDRS = NON_PUBLIC_CIDRS[:3]
"""RFC 1918: where an in-cluster Kubernetes API server address lives when the stack declares none."""

API_SERVER_PORTS = (443, 6443)
"""The ports a Kubernetes API server listens on (the in-cluster Service's 443, the upstream default 6443)."""


def egress_api_server(api_server_cidrs: Sequence[str] = ()) -> NetworkPolicyEgressRuleArgs:
    """TCP 443/6443 to the Kubernetes API server, for pods that call it (discovery, a Job writing a ConfigMap):
    the stack's declared ``cluster.apiServerCidrs`` when it declares them, else the private ranges
    (:data:`PRIVATE_CIDRS`: the in-cluster API address is private). Never the internet at large."""
    return NetworkPolicyEgressRuleArgs(
        to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr=c)) for c in (api_server_cidrs or PRIVATE_CIDRS)],
        ports=[NetworkPolicyPortArgs(protocol="TCP", port=p) for p in API_SERVER_PORTS],
    )
