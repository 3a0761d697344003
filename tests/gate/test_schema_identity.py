"""kubernetes-validate once per object where both Kubernetes versions judge it alike (slm_deploy/gate/schema_identity.py):
``validate_objects`` must report exactly what validating under every version reports, message for message, on the
reference stacks' objects, on objects valid in one version only, and on generated mutations of real objects."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_deploy.gate import schema_validation as sv
from slm_deploy.gate.schema_identity import SchemaPair

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
OLD, NEW = sv.SUPPORTED_KUBERNETES


def _reference(objects: dict[str, dict], versions=sv.SUPPORTED_KUBERNETES) -> list[tuple[str, str, str]]:
    """Every object validated under every version, one after the other (the gate before schema_identity)."""
    errors = []
    for name, obj in objects.items():
        if not isinstance(obj, dict) or not (sv._is_builtin(obj.get("apiVersion", ""))
                                             or sv.has_crd(obj.get("apiVersion", ""), obj.get("kind", ""))):
            continue
        for version in versions:
            outcome = sv._judge(obj, version)
            if outcome is sv._NO_SCHEMA:
                errors.append((name, version, f"no schema for {obj.get('apiVersion')}/{obj.get('kind')}"))
            elif outcome is not None:
                errors.append((name, version, outcome))
    return errors


def _golden_objects() -> dict[str, dict]:
    objects = {}
    for path in sorted(GOLDEN.glob("*/manifests/*.yaml")):
        objects[f"{path.parent.parent.name}/{path.name}"] = yaml.safe_load(path.read_text())
    assert len(objects) > 100
    return objects


GOLDEN_OBJECTS = _golden_objects()


def _one(stack: str, kind: str) -> dict:
    """A copy of the first golden ``kind`` of ``stack`` (a real object to break)."""
    [first, *_] = [o for n, o in GOLDEN_OBJECTS.items() if n.startswith(f"{stack}/") and o["kind"] == kind]
    return copy.deepcopy(first)


def _pod(obj: dict) -> dict:
    return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]["template"]["spec"]


def test_every_reference_stack_object_reports_what_every_version_reports():
    assert sv.validate_objects(GOLDEN_OBJECTS) == _reference(GOLDEN_OBJECTS) == []


def test_every_reference_stack_object_is_validated_once():
    """The saving is real: each golden object's two validations are proven alike (Deployments and Jobs included,
    whose kinds' schemas changed between the versions)."""
    builtin = {n: o for n, o in GOLDEN_OBJECTS.items() if sv._is_builtin(o["apiVersion"])}
    assert {o["kind"] for o in builtin.values()} >= {"Deployment", "Job", "Service", "NetworkPolicy", "ConfigMap"}
    assert [n for n, o in builtin.items() if not sv._alike(o, OLD, NEW)] == []
    pair = sv._pair(OLD, NEW)
    assert pair.kind_same(("v1", "ConfigMap"), *(sv._validator_for(_one("prod", "ConfigMap"), v)[0].schema for v in (OLD, NEW)))
    assert not pair.kind_same(("apps/v1", "Deployment"),
                              *(sv._validator_for(_one("prod", "Deployment"), v)[0].schema for v in (OLD, NEW)))


def _with(obj: dict, edit) -> dict:
    edit(obj)
    return obj


def _set(path: list, value):
    def edit(obj):
        node = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _pod_set(path: list, value):
    def edit(obj):
        node = _pod(obj)
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _hostile() -> list[tuple[str, dict, set[str]]]:
    """(case, object, the versions it is invalid in)."""
    deployment = lambda: _one("prod", "Deployment")  # noqa: E731
    job = lambda: _one("prod", "Job")  # noqa: E731
    meta = {"name": "x", "namespace": "slm-prod"}
    return [
        ("pod appArmorProfile (1.30+)", _with(deployment(), _pod_set(["securityContext", "appArmorProfile"],
                                                                     {"type": "RuntimeDefault"})), {OLD}),
        ("container appArmorProfile (1.30+)", _with(deployment(), _pod_set(
            ["containers", 0, "securityContext", "appArmorProfile"], {"type": "RuntimeDefault"})), {OLD}),
        ("volumeMount recursiveReadOnly (1.30+)", _with(deployment(), _pod_set(
            ["containers", 0, "volumeMounts", 0, "recursiveReadOnly"], "IfPossible")), {OLD}),
        ("pod-level resources (1.32+)", _with(deployment(), _pod_set(["resources"], {"limits": {"cpu": "1"}})), {OLD}),
        ("lifecycle stopSignal (1.33)", _with(deployment(), _pod_set(["containers", 0, "lifecycle"],
                                                                     {"stopSignal": "SIGTERM"})), {OLD}),
        ("resourceClaims source (removed after 1.30)", _with(deployment(), _pod_set(
            ["resourceClaims"], [{"name": "gpu", "source": {"resourceClaimName": "gpu"}}])), {NEW}),
        ("resourceClaims resourceClaimName (1.31+)", _with(deployment(), _pod_set(
            ["resourceClaims"], [{"name": "gpu", "resourceClaimName": "gpu"}])), {OLD}),
        ("job successPolicy (1.30+)", _with(job(), _set(["spec", "successPolicy"], {"rules": [{"succeededCount": 1}]})),
         {OLD}),
        ("job managedBy (1.30+)", _with(job(), _set(["spec", "managedBy"], "kueue.x-k8s.io/multikueue")), {OLD}),
        ("service trafficDistribution (1.30+)", _with(_one("prod", "Service"), _set(
            ["spec", "trafficDistribution"], "PreferClose")), {OLD}),
        ("1.33-only field and a typo elsewhere", _with(_with(deployment(), _pod_set(
            ["securityContext", "appArmorProfile"], {"type": "RuntimeDefault"})), _pod_set(["containers", 0, "imagePullPolice"],
                                                                                         "Always")), {OLD, NEW}),
        ("a typo in a changed kind", _with(deployment(), _pod_set(["containers", 0, "imagePullPolice"], "Always")),
         {OLD, NEW}),
        ("a wrong type in a changed kind", _with(deployment(), _set(["spec", "replicas"], "two")), {OLD, NEW}),
        ("a wrong type in an unchanged kind", _with(_one("prod", "NetworkPolicy"), _set(["spec", "podSelector"], [])),
         {OLD, NEW}),
        ("a typo in an unchanged kind", _with(_one("prod", "ConfigMap"), _set(["immutible"], True)), {OLD, NEW}),
        ("ServiceCIDR networking.k8s.io/v1beta1 (1.31+)", {"apiVersion": "networking.k8s.io/v1beta1",
                                                           "kind": "ServiceCIDR", "metadata": {"name": "x"},
                                                           "spec": {"cidrs": ["10.0.0.0/16"]}}, {OLD}),
        ("IPAddress networking.k8s.io/v1alpha1 (removed)", {"apiVersion": "networking.k8s.io/v1alpha1",
                                                            "kind": "IPAddress", "metadata": {"name": "10.0.0.1"},
                                                            "spec": {"parentRef": {"resource": "services", "name": "s",
                                                                                   "namespace": "d"}}}, {NEW}),
        ("VolumeAttributesClass storage.k8s.io/v1beta1 (1.31+)", {"apiVersion": "storage.k8s.io/v1beta1",
                                                                  "kind": "VolumeAttributesClass", "metadata": meta,
                                                                  "driverName": "csi"}, {OLD}),
        ("a kind no version has", {"apiVersion": "apps/v1", "kind": "Deploymint", "metadata": meta}, {OLD, NEW}),
        ("InferencePool (vendored CRD), valid", _inference_pool(), set()),
        ("InferencePool with a typo", _with(_inference_pool(), _set(["spec", "targetPort"], [{"number": 1}])), {OLD, NEW}),
        ("InferencePool with a typo in metadata", _with(_inference_pool(), _set(["metadata", "labelz"], {})), {OLD, NEW}),
    ]


def _inference_pool() -> dict:
    return {"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
            "metadata": {"name": "pool", "namespace": "slm-prod", "ownerReferences": []},
            "spec": {"targetPorts": [{"number": 8000}], "selector": {"matchLabels": {"app": "vllm"}},
                     "endpointPickerRef": {"name": "epp", "port": {"number": 9002}}}}


HOSTILE = _hostile()


@pytest.mark.parametrize(("case", "obj", "invalid_in"), HOSTILE, ids=[case for case, _, _ in HOSTILE])
def test_an_object_invalid_in_one_version_is_reported_under_that_version(case, obj, invalid_in):
    got = sv.validate_objects({"x.yaml": obj})
    assert got == _reference({"x.yaml": obj})
    assert {version for _, version, _ in got} == invalid_in, got
    if sv._is_builtin(obj["apiVersion"]):  # the messages are kubernetes-validate's own
        for version in (OLD, NEW):
            assert [e for _, v, e in got if v == version] == _library(obj, version)


def _library(obj: dict, version: str) -> list[str]:
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(str(p) for p in exc.path) or '(root)'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {obj['apiVersion']}/{obj['kind']}"]
    return []


def test_an_object_using_a_field_one_version_lacks_is_validated_under_both():
    obj = _with(_one("prod", "Deployment"), _pod_set(["securityContext", "appArmorProfile"], {"type": "RuntimeDefault"}))
    assert not sv._alike(obj, OLD, NEW)
    assert sv._alike(_one("prod", "Deployment"), OLD, NEW)


def test_many_objects_keep_their_order_and_versions():
    objects = {f"{i}-{case}.yaml": obj for i, (case, obj, _) in enumerate(HOSTILE)} | GOLDEN_OBJECTS
    assert sv.validate_objects(objects) == _reference(objects)
    assert sv.validate_objects(objects, (NEW, OLD, "1.31")) == _reference(objects, (NEW, OLD, "1.31"))


# --------------------------------------------------------------------------- generated mutations of real objects

_ONE_VERSION_FIELDS = ["appArmorProfile", "recursiveReadOnly", "resources", "stopSignal", "source", "resourceClaimName",
                       "resourceClaimTemplateName", "trafficDistribution", "successPolicy", "managedBy", "tolerance",
                       "image", "seLinuxChangePolicy", "supplementalGroupsPolicy", "request", "terminatingReplicas"]
_FIELDS = _ONE_VERSION_FIELDS + ["bogus", "name", "containers", "limits", "type", "spec", "metadata"]
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000), st.sampled_from(["", "x", "IfPossible", "1Gi"]),
                    st.just({}), st.just([]), st.just({"type": "RuntimeDefault"}), st.just([{"name": "a"}])).map(copy.deepcopy)
_TARGETS = [n for n, o in GOLDEN_OBJECTS.items() if o["kind"] in {"Deployment", "Job", "Service", "ConfigMap", "PodDisruptionBudget"}]
"""Kinds whose schema changed between the versions (Deployment, Job, Service) and two that did not."""


def _nodes(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, index))


def _sites(obj: dict) -> list[tuple[tuple, str]]:
    """(path of a mapping in ``obj``, a field one version's schema declares there and the other's does not): where
    an edit makes the two versions' schemas differ for this object. Found by following ``properties``, ``items`` and
    ``$ref`` in both versions' files (a generator's aid only; the oracle is validating under each version)."""
    docs = [sv._validator_for(obj, v)[0].schema for v in (OLD, NEW)]
    defs = [sv._definitions(sv._schema_dir(v), v)["$defs"] for v in (OLD, NEW)]

    def resolve(schema: dict, side: int) -> dict:
        while "$ref" in schema:
            schema = defs[side][schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    sites = []

    def walk(node, schemas, path):
        schemas = [resolve(schema, side) for side, schema in enumerate(schemas)]
        if isinstance(node, dict) and all("properties" in schema for schema in schemas):
            props = [schema["properties"] for schema in schemas]
            sites.extend((path, field) for field in sorted(props[0].keys() ^ props[1].keys()))
            for key, value in node.items():
                if key in props[0] and key in props[1]:
                    walk(value, [props[0][key], props[1][key]], (*path, key))
        elif isinstance(node, list) and all("items" in schema for schema in schemas):
            for index, value in enumerate(node):
                walk(value, [schema["items"] for schema in schemas], (*path, index))

    walk(obj, docs, ())
    return sites


@st.composite
def _mutated(draw):
    """A golden object with one to three edits: a field only one version declares, added where it declares it; a
    key added to a mapping; a value replaced (the kind and apiVersion stay: the hostile cases change those)."""
    obj = copy.deepcopy(GOLDEN_OBJECTS[draw(st.sampled_from(_TARGETS))])
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["declared once", "any key", "any value"]))
        sites = _sites(obj) if edit == "declared once" else []
        if sites:
            path, field = draw(st.sampled_from(sites))
            parent = obj
            for key in path:
                parent = parent[key]
            parent[field] = draw(_VALUES)
            continue
        nodes = [(path, node) for path, node in _nodes(obj) if path not in {("apiVersion",), ("kind",)}]
        path, node = draw(st.sampled_from(nodes))
        if isinstance(node, dict) and edit == "any key":
            node[draw(st.sampled_from(_FIELDS))] = draw(_VALUES)
        elif path:
            parent = obj
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = draw(_VALUES)
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_mutated())
def test_generated_mutations_of_real_objects_report_what_every_version_reports(obj):
    assert sv.validate_objects({"x.yaml": obj}) == _reference({"x.yaml": obj})


# --------------------------------------------------------------------------- the identity itself, on small schemas

def _pair(defs_a: dict, defs_b: dict) -> SchemaPair:
    return SchemaPair(defs_a, defs_b)


def _doc(ref: str = "T") -> dict:
    return {"$id": "https://kubernetes.io/api/t/v1", "properties": {"spec": {"$ref": f"/api/_definitions.json#/$defs/{ref}"}},
            "type": "object", "additionalProperties": False}


T = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": False}


def test_descriptions_and_kubernetes_annotations_do_not_count():
    annotated = {"description": "new words", "x-kubernetes-list-type": "atomic",
                 "properties": {"a": {"type": "string", "description": "a"}, "b": {"type": "integer"}},
                 "additionalProperties": False}
    pair = _pair({"T": T}, {"T": annotated})
    assert pair.definition_same("T") and pair.kind_same("t", _doc(), _doc())


def test_a_property_named_description_counts():
    pair = _pair({"T": {"properties": {"description": {"type": "string"}}}}, {"T": {"properties": {}}})
    assert not pair.definition_same("T")


def test_key_order_counts_because_the_first_error_follows_it():
    reordered = {"properties": {"b": {"type": "integer"}, "a": {"type": "string"}}, "additionalProperties": False}
    pair = _pair({"T": T}, {"T": reordered})
    assert not pair.definition_same("T")
    assert not pair.equivalent("t", _doc(), _doc(), {"spec": {"a": 1, "b": "x"}})


def test_quoted_subschemas_count_with_their_descriptions():
    pair = _pair({"T": {"not": {"type": "string", "description": "old"}}}, {"T": {"not": {"type": "string", "description": "new"}}})
    assert not pair.definition_same("T")
    pair = _pair({"T": {"oneOf": [{"type": "string", "description": "old"}]}}, {"T": {"oneOf": [{"type": "string"}]}})
    assert not pair.definition_same("T")


def test_a_difference_counts_through_references_transitively():
    pair = _pair({"T": {"$ref": "#/$defs/U"}, "U": {"$ref": "#/$defs/V"}, "V": {"type": "string"}},
                 {"T": {"$ref": "#/$defs/U"}, "U": {"$ref": "#/$defs/V"}, "V": {"type": "integer"}})
    assert not pair.definition_same("T") and not pair.kind_same("t", _doc(), _doc())
    assert not pair.equivalent("t", _doc(), _doc(), {"spec": "x"})


def test_recursive_definitions_compare():
    tree = {"properties": {"child": {"$ref": "#/$defs/T"}, "v": {"type": "string"}}}
    assert _pair({"T": tree}, {"T": copy.deepcopy(tree)}).definition_same("T")
    other = {"properties": {"child": {"$ref": "#/$defs/T"}, "v": {"type": "integer"}}}
    pair = _pair({"T": tree}, {"T": other})
    assert not pair.definition_same("T")
    assert pair.equivalent("t", _doc(), _doc(), {"spec": {"child": {"child": {}}}})
    assert not pair.equivalent("t", _doc(), _doc(), {"spec": {"child": {"v": "x"}}})


def test_a_field_declared_in_one_version_only_matters_only_when_the_object_has_it():
    added = {"properties": {"a": {"type": "string"}, "new": {"type": "string"}, "b": {"type": "integer"}},
             "additionalProperties": False}
    pair = _pair({"T": T}, {"T": added})
    assert pair.equivalent("t", _doc(), _doc(), {"spec": {"a": "x", "b": 1, "typo": 2}})
    assert not pair.equivalent("t", _doc(), _doc(), {"spec": {"new": "x"}})
    assert not pair.equivalent("t", _doc(), _doc(), {"spec": "not an object"})


def test_what_cannot_be_proven_is_different():
    for odd in ({"$dynamicRef": "#x"}, {"unevaluatedProperties": False}, {"prefixItems": [{}]},
                {"properties": {"a": {"$id": "https://elsewhere/", "type": "string"}}}, {"$ref": "https://elsewhere/#/x"}):
        pair = _pair({"T": odd}, {"T": copy.deepcopy(odd)})
        assert not pair.definition_same("T"), odd
        assert not pair.equivalent("t", _doc(), _doc(), {"spec": {"a": "x"}}), odd
    crd = {"properties": {"metadata": {"$ref": "/api/_definitions.json#/$defs/T"}}}  # no kubernetes.io $id to resolve against
    assert not _pair({"T": T}, {"T": T}).kind_same("c", crd, copy.deepcopy(crd))
