"""The object builder both monitoring modes share: labels, metadata, Deployments, Services, NetworkPolicies."""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import (
    ContainerArgs,
    ContainerPortArgs,
    EnvVarArgs,
    PodTemplateSpecArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components.base import EXTERNAL_SECRETS_ANNOTATION
from components.hardening import container_security_context, http_probe, network_policy_spec, restricted_pod_spec
from components.labels import selector_labels, standard_labels

__all__ = ["Builder", "config_checksum", "server_container"]


class Builder:
    """Creates one MonitoringStack's objects (children of ``parent``) with its labels and namespace."""

    def __init__(self, parent: pulumi.Resource, name: str, namespace: str, part_of: str) -> None:
        self.parent, self.name, self.namespace, self.part_of = parent, name, namespace, part_of
        self.opts = pulumi.ResourceOptions(parent=parent)

    def labels(self, app: str, version: str) -> dict[str, str]:
        return standard_labels(app, self.name, "monitoring", version, self.part_of)

    def selector(self, app: str) -> dict[str, str]:
        return selector_labels(app, self.name)

    def meta(self, obj: str, app: str, version: str, annotations: dict[str, str] | None = None) -> ObjectMetaArgs:
        return ObjectMetaArgs(name=obj, namespace=self.namespace, labels=self.labels(app, version), annotations=annotations)

    def config_map(self, obj: str, app: str, version: str, data: dict[str, str]) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(obj, metadata=self.meta(obj, app, version), data=data, opts=self.opts)

    def deployment(
        self, obj: str, app: str, version: str, container: ContainerArgs, volumes: list[VolumeArgs], *,
        checksum: str, service_account: str | None = None, recreate: bool = False,
        external_secrets: list[str] | None = None,
    ) -> k8s.apps.v1.Deployment:
        """``external_secrets``: Secrets the user creates that the pod mounts (declared for the gate)."""
        labels = self.labels(app, version)
        annotations = {"slm-deploy.io/config-checksum": checksum}
        if external_secrets:
            annotations[EXTERNAL_SECRETS_ANNOTATION] = ",".join(sorted(set(external_secrets)))
        return k8s.apps.v1.Deployment(
            obj,
            metadata=self.meta(obj, app, version),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=LabelSelectorArgs(match_labels=self.selector(app)),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate") if recreate else None,
                template=PodTemplateSpecArgs(
                    metadata=ObjectMetaArgs(labels=labels, annotations=annotations),
                    spec=restricted_pod_spec(
                        service_account_name=service_account,
                        enable_service_links=False,
                        containers=[container],
                        volumes=volumes,
                    ),
                ),
            ),
            opts=self.opts,
        )

    def service(self, obj: str, app: str, version: str, port: int, port_name: str) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            obj,
            metadata=self.meta(obj, app, version),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=self.selector(app),
                ports=[k8s.core.v1.ServicePortArgs(name=port_name, port=port, target_port=port_name, protocol="TCP")],
            ),
            opts=self.opts,
        )

    def network_policy(self, obj: str, app: str, version: str, ingress: list, egress: list) -> k8s.networking.v1.NetworkPolicy:
        """The app's NetworkPolicy: ``ingress`` in; cluster DNS and ``egress`` out (:func:`network_policy_spec`)."""
        return k8s.networking.v1.NetworkPolicy(
            obj,
            metadata=self.meta(obj, app, version),
            spec=network_policy_spec(self.selector(app), ingress=ingress, egress=egress),
            opts=self.opts,
        )


def config_checksum(*parts: str) -> str:
    return hashlib.sha256("\n---\n".join(parts).encode()).hexdigest()[:16]


def server_container(name: str, img: str, args: list[str], port: int, port_name: str, mounts: list[VolumeMountArgs], *,
               ready: str, live: str, res, env: list[EnvVarArgs] | None = None, startup_failures: int = 30) -> ContainerArgs:
    return ContainerArgs(
        name=name,
        image=img,
        image_pull_policy="IfNotPresent",
        args=args,
        env=env,
        ports=[ContainerPortArgs(name=port_name, container_port=port, protocol="TCP")],
        volume_mounts=mounts,
        resources=res,
        security_context=container_security_context(),
        startup_probe=http_probe(ready, port_name, period_seconds=10, failure_threshold=startup_failures),
        readiness_probe=http_probe(ready, port_name, period_seconds=10),
        liveness_probe=http_probe(live, port_name, period_seconds=20, failure_threshold=3),
    )
