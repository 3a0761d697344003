"""kubernetes-validate in strict mode, on the oldest and newest Kubernetes versions we support."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

__all__ = ["SUPPORTED_KUBERNETES", "validate_manifests"]

SUPPORTED_KUBERNETES = ("1.29", "1.33")
"""Oldest and newest supported Kubernetes minor versions; manifests must be valid on both."""

# Custom resources (KEDA, Prometheus Operator) have no bundled schema; they are checked by checkov only.
_BUILTIN_GROUPS = ("v1", "apps/", "batch/", "networking.k8s.io/", "policy/", "autoscaling/", "rbac.authorization.k8s.io/", "storage.k8s.io/", "scheduling.k8s.io/")


def _is_builtin(api_version: str) -> bool:
    return api_version == "v1" or api_version.startswith(_BUILTIN_GROUPS[1:])


def validate_manifests(manifest_dir: Path, versions: tuple[str, ...] = SUPPORTED_KUBERNETES) -> list[tuple[str, str, str]]:
    """Return ``(file, version, error)`` for every manifest invalid on any version (strict schemas)."""
    errors: list[tuple[str, str, str]] = []
    for path in sorted(manifest_dir.glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        if not _is_builtin(obj.get("apiVersion", "")):
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                location = ".".join(str(p) for p in exc.path) or "(root)"
                errors.append((path.name, version, f"{location}: {exc.message}"))
            except kubernetes_validate.SchemaNotFoundError:
                errors.append((path.name, version, f"no schema for {obj.get('apiVersion')}/{obj.get('kind')}"))
    return errors
