"""The stack's namespace, enforcing Pod Security Admission "restricted"."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.labels import MANAGED_BY

__all__ = ["restricted_namespace", "PSA_VERSION"]

PSA_VERSION = "v1.29"
"""Pin the PSA policy version to the oldest supported Kubernetes, so upgrades don't change admission."""


def restricted_namespace(name: str, part_of: str, opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Namespace:
    """A namespace whose pods must pass PSA "restricted" (enforce, audit and warn)."""
    psa = {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", "restricted"), ("-version", PSA_VERSION))
    }
    return k8s.core.v1.Namespace(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name,
            labels={**psa, "app.kubernetes.io/part-of": part_of, "app.kubernetes.io/managed-by": MANAGED_BY},
        ),
        opts=opts,
    )
