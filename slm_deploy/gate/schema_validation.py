"""kubernetes-validate in strict mode, on the oldest and newest Kubernetes versions we support; and the custom
resources whose CRDs are vendored in ``crds/`` (InferencePool, HTTPRoute) against their CRD's openAPIV3Schema.

A CRD schema is made strict the way the API server's strict field validation judges an object: a field no
``properties`` declares is an error (unless the schema preserves unknown fields), ``x-kubernetes-int-or-string``
takes an integer or a string, ``nullable`` admits null, and ``metadata`` is the built-in ObjectMeta of that
Kubernetes version. CEL rules (``x-kubernetes-validations``) are not evaluated: only the API server runs CEL.
"""

from __future__ import annotations

from pathlib import Path

import re
from functools import lru_cache

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions, major_minor, schema_contents
from referencing import Registry, Resource

from slm_deploy.gate.schema_identity import SchemaPair

__all__ = ["CRD_DIR", "SUPPORTED_KUBERNETES", "crd_groups", "crd_kinds", "has_crd", "preload", "validate_manifests",
           "validate_objects"]

SUPPORTED_KUBERNETES = ("1.29", "1.33")
"""Oldest and newest supported Kubernetes minor versions; manifests must be valid on both."""

# Custom resources without a vendored CRD (KEDA, Prometheus Operator) have no schema; they are checked by checkov only.
_BUILTIN_GROUPS = ("v1", "apps/", "batch/", "networking.k8s.io/", "policy/", "autoscaling/", "rbac.authorization.k8s.io/", "storage.k8s.io/", "scheduling.k8s.io/")


def _is_builtin(api_version: str) -> bool:
    return api_version == "v1" or api_version.startswith(_BUILTIN_GROUPS[1:])


CRD_DIR = Path(__file__).with_name("crds")
"""Vendored CRDs, each unchanged from its upstream tag, with a ``.source`` file (repository, tag, commit, path, sha256)."""
_OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@lru_cache(maxsize=1)
def crd_groups() -> frozenset[str]:
    """The API groups of the vendored CRDs, from their file names alone (upstream names each CRD file
    ``<group>_<plural>.yaml``; :func:`crd_kinds` checks that each file's group is its name's). An object of any
    other group has no vendored schema, which is known without parsing the CRDs (the HTTPRoute CRD is 343 KB)."""
    return frozenset(path.name.split("_", 1)[0] for path in CRD_DIR.glob("*.yaml"))


def has_crd(api_version: str, kind: str) -> bool:
    """Whether a vendored CRD serves ``apiVersion``/``kind``; parses the CRDs only for an object of their groups."""
    return api_version.split("/", 1)[0] in crd_groups() and (api_version, kind) in crd_kinds()


@lru_cache(maxsize=1)
def crd_kinds() -> dict[tuple[str, str], Path]:
    """``(apiVersion, kind) -> CRD file`` for every served version of every vendored CRD."""
    kinds: dict[tuple[str, str], Path] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        spec = _load_crd(path)["spec"]
        if path.name.split("_", 1)[0] != spec["group"]:
            raise ValueError(f"{path.name}: the file name's group is not the CRD's group {spec['group']!r}")
        for version in spec["versions"]:
            if version.get("served"):
                kinds[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = path
    return kinds


@lru_cache(maxsize=8)
def _load_crd(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _strict(schema: object) -> object:
    """An openAPIV3Schema node as a strict JSON schema (see the module docstring)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=16)
def _crd_validator(version: str, api_version: str, kind: str) -> tuple[jsonschema.protocols.Validator, str]:
    actual = _actual_version(version)
    crd = _load_crd(crd_kinds()[(api_version, kind)])
    [served] = [v for v in crd["spec"]["versions"] if f"{crd['spec']['group']}/{v['name']}" == api_version]
    schema = _strict(served["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"$ref": _OBJECT_META}
    schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
    return (jsonschema.validators.Draft202012Validator(schema, registry=_registry(_schema_dir(version), version)),
            major_minor(actual))


def preload(versions: tuple[str, ...] = SUPPORTED_KUBERNETES) -> None:
    """Read and index each version's shared definitions (``_definitions.json``, ~1.2-1.5 MB each) now, as the first
    validation would: the prewarmed gate worker does while the stack is synthesized (slm_deploy/gate/scan.py)."""
    for version in versions:
        _registry(_schema_dir(version), version)


@lru_cache(maxsize=8)
def _definitions(schema_dir: str, version: str) -> dict:
    return schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)


@lru_cache(maxsize=8)
def _registry(schema_dir: str, version: str) -> Registry:
    return Resource.from_contents(_definitions(schema_dir, version)) @ Registry()


@lru_cache(maxsize=16)
def _actual_version(version: str) -> str:
    """The version whose schemas kubernetes-validate uses for ``version``: its newest one not newer than it."""
    return [v for v in all_versions() if major_minor(v) <= major_minor(version)][-1]


def _schema_dir(version: str) -> str:
    """kubernetes-validate's strict schema directory for ``version`` (the one rule every validator and the
    validate-once comparison of :mod:`slm_deploy.gate.schema_identity` read)."""
    return f"v{_actual_version(version)}-local-strict"


@lru_cache(maxsize=16)
def _pair(version_a: str, version_b: str) -> SchemaPair:
    return SchemaPair(_definitions(_schema_dir(version_a), version_a)["$defs"],
                      _definitions(_schema_dir(version_b), version_b)["$defs"])


@lru_cache(maxsize=256)
def _validator(version: str, kind: str, api_version: str) -> tuple[jsonschema.protocols.Validator, str]:
    """kubernetes_validate.validate(strict=True), with the schema, definitions and registry built once
    per (version, kind) instead of once per object (its per-call reload of _definitions.json dominated)."""
    actual, schema_dir = _actual_version(version), _schema_dir(version)
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        raise kubernetes_validate.SchemaNotFoundError(version=major_minor(version), kind=kind, api_version=api_version)
    registry = Resource.from_contents(schema) @ _registry(schema_dir, version)
    return jsonschema.validators.Draft202012Validator(schema, registry=registry), major_minor(actual)


def _validator_for(obj: dict, version: str) -> tuple[jsonschema.protocols.Validator, str]:
    if has_crd(obj["apiVersion"], obj["kind"]):
        return _crd_validator(version, obj["apiVersion"], obj["kind"])
    return _validator(version, obj["kind"], obj["apiVersion"])


def _validate(obj: dict, version: str) -> None:
    validator, actual = _validator_for(obj, version)
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
    """Like :func:`validate_manifests`, on already parsed objects keyed by file name.

    An object is validated once for every version whose schema judges it exactly as the first version's does
    (``schema_identity``: the kind's reachable schema is the same, or the object uses no part that differs); the
    result is the one validating under each version gives, message for message."""
    errors: list[tuple[str, str, str]] = []
    for name, obj in objects.items():
        if not isinstance(obj, dict) or not (
                _is_builtin(obj.get("apiVersion", "")) or has_crd(obj.get("apiVersion", ""), obj.get("kind", ""))):
            continue
        first: str | _NoSchema | None = None
        for index, version in enumerate(versions):
            if index and first is not _NO_SCHEMA and _alike(obj, versions[0], version):
                error = first
            else:
                error = _judge(obj, version)
            if not index:
                first = error
            if error is not None:
                errors.append((name, version, error if error is not _NO_SCHEMA
                               else f"no schema for {obj.get('apiVersion')}/{obj.get('kind')}"))
    return errors


class _NoSchema:
    """The outcome of an object whose kind has no schema in a version."""


_NO_SCHEMA = _NoSchema()


def _judge(obj: dict, version: str) -> str | _NoSchema | None:
    """The object's outcome on one version: None (valid), ``"<location>: <message>"``, or ``_NO_SCHEMA``."""
    try:
        _validate(obj, version)
    except kubernetes_validate.ValidationError as exc:
        location = ".".join(str(p) for p in exc.path) or "(root)"
        return f"{location}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError:
        return _NO_SCHEMA
    return None


def _alike(obj: dict, version_a: str, version_b: str) -> bool:
    """Whether ``obj`` validates on ``version_b`` exactly as on ``version_a`` (both have its kind's schema)."""
    try:
        doc_a, doc_b = _validator_for(obj, version_a)[0].schema, _validator_for(obj, version_b)[0].schema
    except kubernetes_validate.SchemaNotFoundError:
        return False
    if _schema_dir(version_a) == _schema_dir(version_b):
        return True
    key = (obj["apiVersion"], obj["kind"])
    return _pair(version_a, version_b).equivalent(key, doc_a, doc_b, obj)
