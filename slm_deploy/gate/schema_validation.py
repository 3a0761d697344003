"""kubernetes-validate in strict mode, on the oldest and newest Kubernetes versions we support."""

from __future__ import annotations

from pathlib import Path

import re
from functools import lru_cache

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions, major_minor, schema_contents
from referencing import Registry, Resource

__all__ = ["SUPPORTED_KUBERNETES", "validate_manifests", "validate_objects"]

SUPPORTED_KUBERNETES = ("1.29", "1.33")
"""Oldest and newest supported Kubernetes minor versions; manifests must be valid on both."""

# Custom resources (KEDA, Prometheus Operator) have no bundled schema; they are checked by checkov only.
_BUILTIN_GROUPS = ("v1", "apps/", "batch/", "networking.k8s.io/", "policy/", "autoscaling/", "rbac.authorization.k8s.io/", "storage.k8s.io/", "scheduling.k8s.io/")


def _is_builtin(api_version: str) -> bool:
    return api_version == "v1" or api_version.startswith(_BUILTIN_GROUPS[1:])


@lru_cache(maxsize=8)
def _registry(schema_dir: str, version: str) -> Registry:
    defs = schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    return Resource.from_contents(defs) @ Registry()


@lru_cache(maxsize=256)
def _validator(version: str, kind: str, api_version: str) -> tuple[jsonschema.protocols.Validator, str]:
    """kubernetes_validate.validate(strict=True), with the schema, definitions and registry built once
    per (version, kind) instead of once per object (its per-call reload of _definitions.json dominated)."""
    actual = [v for v in all_versions() if major_minor(v) <= major_minor(version)][-1]
    schema_dir = f"v{actual}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        raise kubernetes_validate.SchemaNotFoundError(version=major_minor(version), kind=kind, api_version=api_version)
    registry = Resource.from_contents(schema) @ _registry(schema_dir, version)
    return jsonschema.validators.Draft202012Validator(schema, registry=registry), major_minor(actual)


def _validate(obj: dict, version: str) -> None:
    validator, actual = _validator(version, obj["kind"], obj["apiVersion"])
    try:
        validator.validate(obj)
    except jsonschema.ValidationError as exc:
        raise kubernetes_validate.ValidationError(exc, version=actual) from None


def validate_manifests(manifest_dir: Path, versions: tuple[str, ...] = SUPPORTED_KUBERNETES) -> list[tuple[str, str, str]]:
    """Return ``(file, version, error)`` for every manifest invalid on any version (strict schemas)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    objects = {path.name: yaml.load(path.read_text(), Loader=loader) for path in sorted(manifest_dir.glob("*.yaml"))}
    return validate_objects(objects, versions)


def validate_objects(objects: dict[str, dict], versions: tuple[str, ...] = SUPPORTED_KUBERNETES) -> list[tuple[str, str, str]]:
    """Like :func:`validate_manifests`, on already parsed objects keyed by file name."""
    errors: list[tuple[str, str, str]] = []
    for name, obj in objects.items():
        if not isinstance(obj, dict) or not _is_builtin(obj.get("apiVersion", "")):
            continue
        for version in versions:
            try:
                _validate(obj, version)
            except kubernetes_validate.ValidationError as exc:
                location = ".".join(str(p) for p in exc.path) or "(root)"
                errors.append((name, version, f"{location}: {exc.message}"))
            except kubernetes_validate.SchemaNotFoundError:
                errors.append((name, version, f"no schema for {obj.get('apiVersion')}/{obj.get('kind')}"))
    return errors
