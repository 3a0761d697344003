"""The ``app.kubernetes.io/*`` labels every object carries; monitoring selects on them."""

from __future__ import annotations

__all__ = ["MANAGED_BY", "TRACK_LABEL", "standard_labels", "selector_labels"]

MANAGED_BY = "slm-deploy"

TRACK_LABEL = "slm-deploy.io/track"
"""Pod label of a model server behind the ModelGateway: ``stable`` or ``canary``. The gateway's two routers
discover one track each, and its proxy splits a canaried model's requests between them (docs/lifecycle.md)."""


def selector_labels(name: str, instance: str) -> dict[str, str]:
    """The immutable subset used in selectors (Deployment selectors cannot change later)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def standard_labels(
    name: str, instance: str, component: str, version: str, part_of: str = "slm-deploy"
) -> dict[str, str]:
    """All six recommended labels: name, instance, component, part-of, version, managed-by."""
    return {
        **selector_labels(name, instance),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": part_of,
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
