"""The synth's fast mock runtime (slm_deploy/synth_runtime.py, synth_serialize.py) records exactly what the SDK's stock
runtime records, and the program reads back exactly what it reads back under the stock runtime."""

from __future__ import annotations

import asyncio
import enum
import logging
import contextlib
import contextvars
import hashlib
import inspect
import re
import typing

import pulumi
import pulumi._types as sdk_types
import pulumi.runtime.resource as sdk_resource
import pulumi_kubernetes as k8s
import pytest
from google.protobuf import struct_pb2
from google.protobuf.internal import well_known_types
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockEngine, MockMonitor
from pulumi.runtime.proto import resource_pb2

from slm_deploy import synth_runtime, synth_serialize, synth_translate
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render
from slm_deploy.synth import SynthError, synthesize
from slm_deploy.synth_runtime import FastMockMonitor
from slm_deploy.synth_serialize import NotMirrored, deserialized_properties
from stacks.loader import load_stack

# The SDK functions synth_runtime / synth_serialize stand in for, mirror, rely on, or cache per type, as they were
# when checked (pulumi 3.272.0; protobuf's Struct conversions, whose number and text handling is mirrored).
PINNED_SOURCES = {
    "MockMonitor.RegisterResource": (MockMonitor.RegisterResource,
                                     "756b6fbc95aee5833987b9b532b5d10c364e29c37c2f6a52363592ebab2565e5"),
    "serialize_properties": (rpc.serialize_properties, "d101e72bd9ececa92586e13cddd7d0d28d97b0418b28cab0e7e688d86f7cfeff"),
    "serialize_property": (rpc.serialize_property, "7e1361fad73506d2c78408541126e705a07da73e5ef44e348e369394f3e30a7a"),
    "deserialize_properties": (rpc.deserialize_properties,
                               "e4b8ebdc1594cf4eeaa421cda2c89ffc39d5a2590fa19753c78d8ebc13e95c7e"),
    "deserialize_property": (rpc.deserialize_property, "662b333c8c26d2708fa7f7745c712def4e8bc98a844c1ab9bac1e266f48a2cb5"),
    "contains_unknowns": (rpc.contains_unknowns, "1f1f335b6f48b96055607dbb5be2e53b1163e35ec88704c89a41271070017cc8"),
    "resolve_outputs": (rpc.resolve_outputs, "18f65c1be3ad95f4d7f679ac3f75c555e3eef738627e50fd0146440477d387e8"),
    "_get_list_element_type": (rpc._get_list_element_type,
                               "3f8a08367e4b35f1a0cb693002e0af39015d466fb9761d25e9bd4362ef8aceaf"),
    "prepare_resource": (sdk_resource.prepare_resource,
                         "ec27af8e12a8d2632e0e51f98f6ad90057af2d80dcc1c080fee1b0b13319120e"),
    "_get_stack_trace": (sdk_resource._get_stack_trace,
                         "3943b2273016925109e1c3a7bc603db06a44ea09ff3494c29544e44bccf8dd1f"),
    "_get_source_position": (sdk_resource._get_source_position,
                             "eb98b10e3279d85c8f4ac088223695dac33fb23f6ee06e081cd29bc21b424a79"),
    "read_resource": (sdk_resource.read_resource, "fe8d3624c32db0b7726965c102a01f8bd518e103d584e0ffa994cdf41b244e8f"),
    "register_resource": (sdk_resource.register_resource,
                          "633fd2207a3851a366731f9ec5b1f62ecb07b7fc823dfe5a0a789e8e1e5dada3"),
    "unwrap_type": (sdk_types.unwrap_type, "6ccd35036cb0b3d4c00ef27db03174477870a0e212643876bc7b1718e4ff3c06"),
    "input_type_types": (sdk_types.input_type_types, "8290a8cbb598d0a9125abb297318233ec6a7247e039bfab9a301233035a427bb"),
    "input_type_py_to_pulumi_names": (sdk_types.input_type_py_to_pulumi_names,
                                      "c80765937c2c2bcabee6fb6d872a6f84f60e28f6924a003a5ebe39a0ee694251"),
    "input_type_to_dict": (sdk_types.input_type_to_dict,
                           "2337bcb071aab7490e2df87f51fe640f45cc6616e62a8a1c90770684144a6a48"),
    "get": (sdk_types.get, "fb81722f6c8b6b2ec219238887097c85bf142ca29d6b87094780aee801e5c374"),
    "_py_properties": (sdk_types._py_properties, "bbc9ffdf4ce957861774dc93040e070c4fbf622791f8ed82fd404fcb70896234"),
    "is_input_type": (sdk_types.is_input_type, "d571ac377804626412428bd4124a1930bfd2026df21b028e2d82b823d29f9aa5"),
    "is_discriminated_union": (sdk_types.is_discriminated_union,
                               "dde99438a0981c4b4032b569f0eb795097cf99020b835b4890fdb9df0f016ea4"),
    "translate_output_properties": (rpc.translate_output_properties,
                                    "3b2d90a79afc9f4f99b6577ecf3a145f6599bcea9cfc35a280d3cc40c9995f42"),
    "transfer_properties": (rpc.transfer_properties, "0e7c02ffa04ff20b31cd58a4829188d173300ed40eae0cb7bb48435121c233d9"),
    "_Path": (rpc._Path, "8b07b8637d2e8aa990a0d8840de546d54218da70c03cb372bfe8a0b6574c1b57"),
    "unwrap_optional_type": (sdk_types.unwrap_optional_type,
                             "66ac125c3482ccba5a1dae55e09f1e3ce9b117f75862e89c8030494305285d38"),
    "is_output_type": (sdk_types.is_output_type, "b1f95264273a6faa9ab4ade8752199e6809625f99c028b09f72a3ec1dfa4b50a"),
    "output_type_types": (sdk_types.output_type_types,
                          "6ab8db53c320abece24be340aeaeeae05c4ce0e48acf58744132e4e3c4441111"),
    "output_type_from_dict": (sdk_types.output_type_from_dict,
                              "b973944b43c90935c8db7f2d866a7c4db59eccc6d6e3f2378bdc39dda0ef1696"),
    "log.debug": (pulumi.log.debug, "381cd6115cca6ca19ddc9416014d9afb086d7b7a9cb3ca8d80f2be24bdb44d6f"),
    "log._log": (pulumi.log._log, "185613096f9dc351865f2df9bd6613990ffd142409e78f01681158ed52743939"),
    "MockEngine.Log": (MockEngine.Log, "2902a687f523c712a4e845dce698673490647b5aae251b62287b588db1e8fe51"),
    "resource_types": (sdk_types.resource_types, "36ca79dc260ad3c156c1a3420ae03fcba6449f143965d54bcae0e5e74e8763ba"),
    "resource_pulumi_to_py_names": (sdk_types.resource_pulumi_to_py_names,
                                    "bcc13d05dd1d086ba667a799481971d88268001b8dfb3119aceaf2d63ac80337"),
    "protobuf _SetStructValue": (well_known_types._SetStructValue,
                                 "5c9e375426c987e933300198c94efd7768c332b4b56cd18decac991265ed7bd1"),
    "protobuf _GetStructValue": (well_known_types._GetStructValue,
                                 "d5f0ef94de49d5cf19c0c19cb27d3ea5d1b1f1953270457db0ba72aafad29128"),
}


@pytest.mark.parametrize("name", sorted(PINNED_SOURCES))
def test_sdk_internals_are_the_checked_ones(name):
    """A pulumi upgrade changes these: re-check slm_deploy/synth_runtime.py and synth_serialize.py against the new SDK,
    then the hashes."""
    function, digest = PINNED_SOURCES[name]
    assert hashlib.sha256(inspect.getsource(function).encode()).hexdigest() == digest
    assert synth_runtime.supported()


# --- the value mirrors, on generated data ---

def _typed(value):
    """A value with its types made visible (1 and 1.0 differ, an output type is its class), unknowns as a marker."""
    if isinstance(value, pulumi.output.Unknown):
        return "<unknown>"
    if isinstance(value, dict) and type(value) is not dict:  # an output type
        return (type(value).__name__, sorted((k, _typed(v)) for k, v in value.items()),
                sorted((k, _typed(v)) for k, v in vars(value).items()))
    if isinstance(value, enum.Enum):
        return (type(value).__name__, value.value)
    if isinstance(value, dict):
        return ("dict", sorted((k, _typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return _comparable(value)
    return (type(value).__name__, value)


def _sdk_struct(state: dict) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(state, {}))
    finally:
        loop.close()


@contextlib.contextmanager
def _dry_run():
    """Runtime settings of a dry run (the synth is one), secrets supported as under the mock monitor."""
    pulumi.runtime.settings.configure(pulumi.runtime.settings.Settings(project="p", stack="s", dry_run=True))
    pulumi.runtime.settings.SETTINGS.monitor_features = {resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS}
    try:
        yield
    finally:
        pulumi.runtime.settings.reset_options()


_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8)
            | st.just(rpc.UNKNOWN))
_SECRET = st.builds(lambda v: {rpc._special_sig_key: rpc._special_secret_sig, "value": v}, _SCALARS)
_JSON = st.recursive(_SCALARS | _SECRET, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=4)
                     | st.builds(lambda v: {rpc._special_sig_key: rpc._special_secret_sig, "value": v}, inner),
                     max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _JSON, max_size=6))
def test_plain_values_deserialize_like_their_struct(state):
    """What the mock's outputs (and a registration's serialized inputs) become after the SDK's protobuf round trip in
    a dry run: floats for numbers, None dropped from mappings, the unknown sentinel as Unknown, secrets pushed up."""
    with _dry_run():
        expected = rpc.deserialize_properties(_sdk_struct(state), keep_unknowns=True)
        assert _typed(deserialized_properties(state)) == _typed(expected)


@pytest.mark.parametrize("state", [
    {"asset": {rpc._special_sig_key: rpc._special_asset_sig, "text": "x"}},
    {"ref": [{rpc._special_sig_key: rpc._special_resource_sig, "urn": "u"}]},
    {"key": {1: "non-string key"}},
    {"text": "\ud800"},
    {"huge": 2**1100},
    {"object": object()},
    {rpc._special_sig_key: rpc._special_secret_sig, "value": 1},
])
def test_anything_not_mirrored_exactly_is_refused(state):
    with pytest.raises(NotMirrored):
        deserialized_properties(state)


_UNKNOWNISH = st.recursive(
    _SCALARS | st.builds(pulumi.output.Unknown),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    | st.tuples(inner, inner), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_UNKNOWNISH)
def test_contains_unknowns_answers_like_the_sdk(value):
    assert synth_serialize.contains_unknowns(value) is rpc.contains_unknowns(value)


def test_contains_unknowns_on_shared_and_cyclic_values():
    shared = {"u": pulumi.output.Unknown()}
    cyclic: dict = {"a": 1}
    cyclic["self"] = cyclic
    for value in ({"x": shared, "y": shared}, [shared, shared], cyclic, [cyclic, pulumi.output.Unknown()]):
        assert synth_serialize.contains_unknowns(value) is rpc.contains_unknowns(value)


# What the engine hands back, and the annotations resolve_outputs translates it under (pulumi_kubernetes output
# types, typed dicts and lists, int, an enum, unions, types that do not fit the value).
_K8S_KEYS = st.sampled_from(["name", "image", "ports", "containerPort", "labels", "protocol", "x", "Other_Key"])
_OUTPUT = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers(-5, 5) | st.sampled_from(["TCP", "ClusterIP", "a"])
    | st.builds(pulumi.output.Unknown),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_K8S_KEYS, inner, max_size=4)
    | st.builds(lambda v: {rpc._special_sig_key: rpc._special_secret_sig, "value": v}, inner),
    max_leaves=15)
_ANNOTATIONS = [None, int, str, typing.Any, dict, list, typing.Optional[int], dict[str, str], dict[str, int],
                list[int], typing.Mapping[str, typing.Any], typing.Sequence[str], typing.Optional[list[str]],
                k8s.core.v1.outputs.Container, k8s.core.v1.outputs.ContainerPort, k8s.meta.v1.outputs.ObjectMeta,
                list[k8s.core.v1.outputs.ContainerPort], typing.Optional[k8s.core.v1.outputs.Container],
                k8s.core.v1.ServiceSpecType, typing.Union[int, str], typing.Union[dict[str, str], list[str]]]


@settings(max_examples=400, deadline=None)
@given(_OUTPUT, st.sampled_from(_ANNOTATIONS), st.booleans(), st.booleans(), st.booleans())
def test_output_translation_is_the_sdks(output, typ, use_meta, none_on_mismatch, transform):
    """synth_translate.translate_output_properties == the SDK's (value, output types, enums, ints, errors)."""
    transformer = (lambda k: k.lower()) if transform else (lambda k: k)

    def outcome(translate):
        try:
            return _typed(translate(output, transformer, typ, use_meta, rpc._Path("top", resource="r"),
                                    none_on_mismatch))
        except Exception as exc:  # the same error as the SDK's: type and message (e.g. int(inf) -> OverflowError)
            return type(exc).__name__, str(exc)

    assert outcome(synth_translate.translate_output_properties) == outcome(synth_translate.STOCK)


@pytest.mark.parametrize("output", [float("inf"), float("-inf"), 1e308, -0.0])
def test_output_translation_of_extreme_floats_under_int_is_the_sdks(output):
    """Found by the property test above in CI: int(inf) raises OverflowError in both, with the same message."""
    def outcome(translate):
        try:
            return _typed(translate(output, lambda k: k, int, False, rpc._Path("top", resource="r"), False))
        except Exception as exc:
            return type(exc).__name__, str(exc)

    assert outcome(synth_translate.translate_output_properties) == outcome(synth_translate.STOCK)


# A generated input: plain data, Outputs (known, unknown, secret) around it, and pulumi_kubernetes input types.
_LEAF_INPUT = st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(allow_nan=False) | st.text(max_size=6)
_RECIPE = st.recursive(
    _LEAF_INPUT,
    lambda inner: st.lists(inner, max_size=3).map(lambda v: ("list", v))
    | st.lists(inner, max_size=3).map(lambda v: ("tuple", v))
    | st.dictionaries(st.sampled_from(["a", "b_c", "name", "match_labels", "containerPort"]), inner, max_size=3)
    .map(lambda v: ("dict", v))
    | st.tuples(st.sampled_from(["output", "secret", "unknown", "unknown-secret"]), inner)
    | st.tuples(st.just("meta"), st.text(max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=2))
    | st.tuples(st.just("port"), st.integers(1, 65535), inner),
    max_leaves=12)


def _build(recipe):
    """The value a recipe stands for (Outputs need the running loop)."""
    if not isinstance(recipe, tuple):
        return recipe
    kind = recipe[0]
    if kind == "list":
        return [_build(r) for r in recipe[1]]
    if kind == "tuple":
        return tuple(_build(r) for r in recipe[1])
    if kind == "dict":
        return {k: _build(r) for k, r in recipe[1].items()}
    if kind == "meta":
        return k8s.meta.v1.ObjectMetaArgs(name=recipe[1], labels=_build(("output", recipe[2])))
    if kind == "port":
        return k8s.core.v1.ContainerPortArgs(container_port=recipe[1], name=_build(recipe[2]))
    inner = _build(recipe[1])
    if kind == "output":
        return pulumi.Output.from_input(inner)
    if kind == "secret":
        return pulumi.Output.secret(inner)
    unknown = pulumi.Output.from_input(pulumi.output.Unknown())
    return pulumi.Output.secret(unknown) if kind == "unknown-secret" else unknown


_TYPES = [None, k8s.core.v1.ContainerArgs, k8s.meta.v1.ObjectMetaArgs]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "ports", "env", "labels", "metadata", "x_y"]), _RECIPE, max_size=4),
       st.sampled_from(_TYPES), st.booleans())
def test_serialized_inputs_are_the_sdks(recipe, typ, transform):
    """synth_serialize.serialize_properties + deserialized_properties == the SDK's serialize_properties, Struct,
    deserialize_properties (values, types, property dependencies, Output resources), for each input shape."""
    transformer = (lambda k: f"T{k}") if transform else None

    async def outcome(serialize, deserialize):
        inputs = {k: _build(r) for k, r in recipe.items()}
        deps: dict = {}
        try:
            values = deserialize(await serialize(inputs, deps, None, transformer, typ))
        except (ValueError, AssertionError) as exc:  # the SDK refuses some shapes (a list for a str): so must we
            return (type(exc).__name__, re.sub(r" at 0x[0-9a-f]+", "", str(exc))), None
        return _typed(values), deps

    async def drain():
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}), return_exceptions=True)

    loop = asyncio.new_event_loop()
    try:
        with _dry_run():
            sdk = loop.run_until_complete(outcome(rpc.serialize_properties, rpc.deserialize_properties))
            ours = loop.run_until_complete(outcome(synth_serialize.serialize_properties, deserialized_properties))
            loop.run_until_complete(drain())
    finally:
        loop.close()
    assert ours == sdk


# --- whole programs: records, what the program reads back, rendered files ---

class _Thing(pulumi.CustomResource):
    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("test:index:Thing", name, props, opts)


class _Camel(pulumi.CustomResource):
    """Untyped inputs with the resource's own key translation (the SDK's input_transformer path)."""

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("test:index:Camel", name, props, opts)

    def translate_input_property(self, prop: str) -> str:
        head, *rest = prop.split("_")
        return head + "".join(p.title() for p in rest)

    def translate_output_property(self, prop: str) -> str:
        return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), prop)


class _Group(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("test:index:Group", name, {"label": "g", "count": 3}, opts)
        self.child = _Thing(f"{name}-child", {"in": "group"}, pulumi.ResourceOptions(parent=self))
        self.register_outputs({"child": self.child.id})


def _mixed_program(seen: dict) -> None:
    """Inputs of every shape: plain values, typed pulumi_kubernetes Args, assets, archives, resource references,
    secrets, unknowns, explicit dependencies, a component with a child, outputs read back into later inputs; what the
    program reads back goes into ``seen``."""
    first = _Thing("first", {"text": "a", "n": 2, "none": None, "nested": {"x": [1, 2.5, None, True]},
                             "tuple": (1, "two"), "unknown": pulumi.output.Unknown()})
    second = _Thing("second", {
        "asset": pulumi.StringAsset("hello"), "archive": pulumi.AssetArchive({"f": pulumi.StringAsset("x")}),
        "file": pulumi.FileAsset("/etc/hostname"), "remote": pulumi.RemoteArchive("https://example.invalid/a.zip"),
        "ref": first, "from_output": first.id.apply(lambda i: f"{i}-derived"),
        "secret": pulumi.Output.secret("s3cr3t"), "secret_nested": {"k": pulumi.Output.secret({"deep": 1})},
        "unknown_output": pulumi.Output.from_input(pulumi.output.Unknown()),
    })
    seen["trace"] = sdk_resource._get_stack_trace
    group = _Group("group", pulumi.ResourceOptions(depends_on=[first]))
    camel = _Camel("camel", {"some_key": {"inner_key": 1}, "list_of": [{"a_b": "c"}]},
                   pulumi.ResourceOptions(depends_on=[group]))
    meta = k8s.meta.v1.ObjectMetaArgs(name="cm", labels={"app": first.id}, annotations={"a": pulumi.Output.secret("x")})
    config = k8s.core.v1.ConfigMap("cm", metadata=meta, data={"k": "v", "n": second.id},
                                   opts=pulumi.ResourceOptions(parent=group))
    deployment = k8s.apps.v1.Deployment("dep", metadata={"name": "dep", "labels": {"a": "b"}}, spec=k8s.apps.v1.DeploymentSpecArgs(
        replicas=3, selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"a": "b"}),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata={"labels": {"a": "b"}},
            spec=k8s.core.v1.PodSpecArgs(containers=[k8s.core.v1.ContainerArgs(
                name="c", image="i", ports=[k8s.core.v1.ContainerPortArgs(container_port=80)],
                env=[{"name": "E", "value": config.metadata.name}])]))))
    aliased = _Thing("aliased", {"a": 1}, pulumi.ResourceOptions(parent=group, aliases=[
        pulumi.Alias(name="old"), pulumi.Alias(type_="test:index:Old"), "urn:pulumi:s::p::test:index:Thing::older",
        pulumi.Alias(name="oldest", stack=pulumi.Output.from_input("other"))]))
    pulumi.Output.all(*aliased._aliases, *deployment._aliases).apply(lambda v: seen.__setitem__("aliases", v))
    pulumi.Output.all(sdk_resource.create_urn("n", "t:m:T"), sdk_resource.create_urn("n", "t:m:T", "urn:pulumi:s::p::a:b:C::c"),
                      sdk_resource.create_urn("n", "t:m:T", first), sdk_resource.create_urn("n", "t:m:T", None, "q", "r"),
                      ).apply(lambda v: seen.__setitem__("urns", v))
    third_deps = _Thing("deps", {"copy": second.id, "nested": {"v": first.text}})

    async def dependencies():  # what each property output depends on (its resource, plus what the engine said)
        found = {}
        for name, output in {"deps.copy": third_deps.copy, "deps.nested": third_deps.nested, "first.n": first.n,
                             "second.secret": second.secret}.items():
            data = await output._data
            found[name] = (sorted(r._name for r in data.resources), data.is_known, data.is_secret, _typed(data.value))
        seen["dependencies"] = found
        return pulumi.output._OutputData(set(), None, True, False)

    pulumi.Output._from_data(dependencies())
    existing = k8s.core.v1.ConfigMap.get("existing", "ns/existing")  # a read: prepare_resource, then ReadResource
    _Thing("third", {"copy": second.id, "read": existing.data, "echo": second.urn.apply(lambda u: u.split("::")[-1]),
                     "replicas": deployment.spec.replicas, "camel": camel.some_key})
    for name, output in {"first.n": first.n, "first.nested": first.nested, "first.tuple": first.tuple,
                         "first.unknown": first.unknown, "second.unknown_output": second.unknown_output,
                         "second.secret": second.secret,
                         "second.secret_nested": second.secret_nested, "second.asset": second.asset,
                         "second.ref": second.ref, "camel.some_key": camel.some_key,
                         "camel.list_of": camel.list_of, "config.data": config.data,
                         "config.metadata": config.metadata.apply(lambda m: {"name": m.name, "labels": m.labels}),
                         "deployment.replicas": deployment.spec.replicas,
                         "deployment.ports": deployment.spec.template.spec.containers[0].ports[0].container_port,
                         "group.child": group.child.id, "existing.id": existing.id}.items():
        output.apply(lambda v, name=name: seen.__setitem__(name, _typed(v) if not isinstance(v, pulumi.Resource)
                                                           else ("resource", v._name)), run_with_unknowns=True)
        pulumi.Output.all(output).apply(lambda v, name=name: seen.__setitem__(f"{name}:all", repr(_typed(v))))
    pulumi.Output.secret(second.secret).apply(lambda v: seen.__setitem__("secret-known", v))


def _comparable(value):
    """Assets and archives compare by identity; compare them by type and content."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return (type(value).__name__, _comparable({k: v for k, v in vars(value).items() if not k.startswith("_")}),
                _comparable(getattr(value, "assets", None)), getattr(value, "text", None), getattr(value, "path", None))
    if isinstance(value, pulumi.output.Unknown):
        return "<unknown>"
    return value


def _records(result):
    return [(r.type, r.name, r.custom, r.parent, r.depends_on, _comparable(r.inputs)) for r in result.resources]


def test_mixed_programs_record_and_read_back_the_same_with_both_runtimes(monkeypatch):
    handed, refused = [], []
    original = synth_serialize.deserialized_properties

    def counting(values):
        try:
            result = original(values)
        except NotMirrored:
            refused.append(values)
            raise
        handed.append(values)
        return result

    monkeypatch.setattr(synth_serialize, "deserialized_properties", counting)
    seen_fast: dict = {}
    fast = synthesize(lambda: _mixed_program(seen_fast), project="p", stack="s")
    # "second" (assets, archives, a resource reference) went through the real Struct both ways
    assert any("asset" in r for r in refused) and len(handed) >= 10
    seen_stock: dict = {}
    stock = synthesize(lambda: _mixed_program(seen_stock), project="p", stack="s", stock_runtime=True)
    assert _records(fast) == _records(stock)
    del seen_fast["trace"], seen_stock["trace"]
    assert seen_fast == seen_stock
    assert seen_fast["first.n"] == ("float", 2.0) and seen_fast["deployment.replicas"] == ("int", 3)
    assert seen_fast["first.unknown"] == seen_fast["second.unknown_output"] == "<unknown>"
    assert seen_fast["camel.some_key"] == ("dict", [("inner_key", ("float", 1.0))]) and seen_fast["secret-known"] == "s3cr3t"
    assert len(seen_fast) == 35  # 17 read back, 14 through Output.all (not 3 unknowns), secret, aliases, URNs, deps
    assert seen_fast["dependencies"]["deps.copy"] == (["deps"], True, False, ("str", "second-id"))
    assert seen_fast["dependencies"]["second.secret"] == (["second"], True, True, ("str", "s3cr3t"))
    assert len(seen_fast["aliases"]) == 7 and seen_fast["aliases"][0] == (
        "urn:pulumi:s::p::pulumi:pulumi:Stack$test:index:Group$test:index:Thing::old")
    assert seen_fast["urns"][1] == "urn:pulumi:s::p::a:b:C$t:m:T::n"
    assert sorted(r.name for r in fast.resources) == ["aliased", "camel", "cm", "dep", "deps", "first", "group",
                                                     "group-child", "second", "third"]
    second = _comparable(next(r for r in fast.resources if r.name == "second").inputs)
    assert second["asset"][3] == "hello" and second["ref"] == "first-id" and second["from_output"] == "first-id-derived"


def test_a_failing_registration_fails_the_same_with_both_runtimes():
    not_an_input = object()

    def bad_input():
        _Thing("bad", {"ok": 1, "bad": not_an_input})

    def bad_text():
        _Thing("bad", {"text": "\ud800"})

    for program in (bad_input, bad_text):
        with pytest.raises(SynthError) as fast:
            synthesize(program, project="p", stack="s")
        with pytest.raises(SynthError) as stock:
            synthesize(program, project="p", stack="s", stock_runtime=True)
        assert str(fast.value) == str(stock.value)


def test_the_runtime_is_patched_only_while_the_synth_runs():
    original = {name: getattr(module, name) for module, name, _ in synth_runtime._PATCHES}
    seen = {}

    def program():
        _mixed_program(seen)
        seen["patched"] = {name: getattr(module, name) is not original[name]
                           for module, name, _ in synth_runtime._PATCHES}

    synthesize(program, project="p", stack="s")
    assert all(seen["patched"].values()) and len(seen["trace"]().frames) == 0
    assert all(getattr(module, name) is original[name] for module, name, _ in synth_runtime._PATCHES)
    assert not synth_runtime._handoffs

    def failing():
        _Thing("x", {"a": 1})
        raise RuntimeError("boom")

    with pytest.raises(SynthError):
        synthesize(failing, project="p", stack="s")
    assert all(getattr(module, name) is original[name] for module, name, _ in synth_runtime._PATCHES)
    synthesize(program, project="p", stack="s", stock_runtime=True)
    assert not any(seen["patched"].values())


def test_a_hand_off_is_never_deserialized_outside_the_dry_run():
    with synth_runtime.fast_runtime():
        struct = synth_runtime._hand_over({"a": 1.0})
        assert synth_runtime.handed_over(struct)
        pulumi.runtime.settings.configure(pulumi.runtime.settings.Settings(project="p", stack="s", dry_run=False))
        try:
            with pytest.raises(AssertionError):
                rpc.deserialize_properties(struct, keep_unknowns=True)
        finally:
            pulumi.runtime.settings.reset_options()
        with _dry_run():
            with pytest.raises(AssertionError):
                rpc.deserialize_properties(struct, keep_internal=False)
            assert rpc.deserialize_properties(struct) == {"a": 1.0}
        assert not synth_runtime.handed_over(struct)  # used once
        unused = synth_runtime._hand_over({"b": 2.0})
    assert not synth_runtime.handed_over(unused)  # nothing outlives the synth


def test_an_unverified_sdk_version_gets_the_stock_runtime(monkeypatch):
    monkeypatch.setattr(synth_runtime, "supported", lambda: False)
    original = sdk_resource._get_stack_trace
    with synth_runtime.fast_runtime() as fast:
        assert fast is False and sdk_resource._get_stack_trace is original and rpc.serialize_properties is not (
            synth_runtime._serialize_properties)


def test_the_environment_can_ask_for_the_stock_runtime(monkeypatch):
    monitors = []

    def program():
        monitors.append(type(pulumi.runtime.settings.SETTINGS.monitor))
        monitors.append(rpc.serialize_properties)

    monkeypatch.setenv(synth_runtime.RUNTIME_ENV, "stock")
    synthesize(program, project="p", stack="s")
    monkeypatch.setenv(synth_runtime.RUNTIME_ENV, "fast")
    synthesize(program, project="p", stack="s")
    assert monitors[0] is MockMonitor and monitors[1] is not synth_runtime._serialize_properties
    assert monitors[2] is FastMockMonitor and monitors[3] is synth_runtime._serialize_properties


@pytest.mark.parametrize("stack", ["prod", "dev", "edge"])
def test_reference_stacks_record_and_render_the_same_with_both_runtimes(stack, synthesized, tmp_path):
    """Kubernetes (prod: gateway, vLLM, monitoring), Docker (dev) and Docker over ssh with an image build (edge):
    the same records, and every rendered file byte for byte."""
    fast, stock = synthesized(stack), synth_stack(load_stack(stack), stock_runtime=True)
    assert _records(fast) == _records(stock)
    render(fast, tmp_path / "fast")
    render(stock, tmp_path / "stock")
    files = sorted(p.relative_to(tmp_path / "fast") for p in (tmp_path / "fast").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "stock") for p in (tmp_path / "stock").rglob("*") if p.is_file())
    assert len(files) > 5
    for path in files:
        assert (tmp_path / "fast" / path).read_bytes() == (tmp_path / "stock" / path).read_bytes(), path


# --- the synth's loop, debug lines and per-class type facts ---

def test_debug_lines_are_dropped_only_where_the_mock_engines_logger_drops_them():
    """The synth's logger (slm_deploy.synth.<stack>) enabled for DEBUG gets the SDK's debug lines from the fast
    runtime as from the stock one; not enabled, the fast runtime never builds them."""
    logger = logging.getLogger("slm_deploy.synth.debugged")
    lines: dict[bool, list[str]] = {}

    class Keep(logging.Handler):
        def emit(self, record):
            lines.setdefault(stock, []).append(record.getMessage())

    handler = Keep(level=logging.DEBUG)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        for stock in (False, True):
            synthesize(lambda: _Thing("t", {"a": 1}), project="p", stack="debugged", stock_runtime=stock)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert sorted(lines[False]) == sorted(lines[True])
    assert any(line.startswith("resource registration successful: ty=test:index:Thing") for line in lines[False])

    built = []
    log_request = pulumi.runtime.proto.engine_pb2.LogRequest

    def recorded(**fields):
        built.append(fields)
        return log_request(**fields)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pulumi.runtime.proto.engine_pb2, "LogRequest", recorded)
        synthesize(lambda: _Thing("t", {"a": 1}), project="p", stack="quiet")
        assert built == []
        synthesize(lambda: _Thing("t", {"a": 1}), project="p", stack="quiet", stock_runtime=True)
        assert any(kw["message"].startswith("resource registration successful") for kw in built)


def test_type_facts_of_a_resource_class_are_the_sdks_and_live_for_one_synth():
    classes = [k8s.apps.v1.Deployment, k8s.core.v1.Service, k8s.core.v1.ConfigMap, _Thing, _Group]
    seen = {}

    def program():
        for cls in classes:
            seen[cls] = (synth_runtime._resource_types(cls), synth_runtime._resource_pulumi_to_py_names(cls))
            assert synth_runtime._resource_types(cls) is seen[cls][0]  # computed once
        _Thing("t", {"a": 1})

    synthesize(program, project="p", stack="s")
    for cls in classes:
        assert seen[cls] == (sdk_types.resource_types(cls), sdk_types.resource_pulumi_to_py_names(cls))
    assert seen[k8s.apps.v1.Deployment][0]["spec"] is k8s.apps.v1.outputs.DeploymentSpec
    assert not synth_runtime._class_facts


class _Pending:
    """An awaitable that suspends once (no event loop needed)."""

    def __await__(self):
        yield


def test_an_abandoned_registration_closes_like_the_stock_one(monkeypatch):
    """A failed program leaves registrations suspended; the garbage collector closes them outside the task whose
    context set the hand-off variable. Closing must end with GeneratorExit as the stock prepare_resource does, not
    raise (a ValueError from the context variable's reset was caught by the SDK's do_register and surfaced as an
    "Exception ignored" warning in an unrelated test)."""

    async def suspended(*_args):
        await _Pending()

    monkeypatch.setitem(synth_runtime._STOCK, "prepare_resource", suspended)
    registration = synth_runtime._prepare_resource(None, "t:m:R", True, False, {}, None)
    contextvars.copy_context().run(registration.send, None)  # suspended inside another context
    registration.close()  # raised ValueError before


# --- input types to dicts (synth_serialize.input_type_to_dict): the getters checked once per class ---

def _provider_input_types() -> list[type]:
    import pulumi_docker
    import pulumi_random
    from pulumi_kubernetes import apps, batch, core, meta, networking, policy, rbac

    modules = (core.v1, apps.v1, batch.v1, networking.v1, policy.v1, rbac.v1, meta.v1, pulumi_docker, pulumi_random)
    return sorted({cls for module in modules for cls in vars(module).values()
                   if isinstance(cls, type) and sdk_types.is_input_type(cls)}, key=lambda c: (c.__module__, c.__name__))


def test_every_provider_input_type_the_program_can_use_has_a_plan():
    """Otherwise the SDK's function runs (same result, no speed-up): pulumi_kubernetes' API groups the components use,
    pulumi_docker and pulumi_random, 719 classes at pulumi-kubernetes 4.34.2."""
    classes = _provider_input_types()
    assert len(classes) > 500
    assert [c.__name__ for c in classes if synth_serialize._input_plan(c) is None] == []


def test_input_types_become_the_sdks_dicts():
    """Every property set to a value, to None, or left unset, in turn, on every provider input type: same keys, values
    and order as the SDK's input_type_to_dict."""
    values = ["text", 0, 1.5, False, ["a"], {"k": "v"}, None]
    for n, cls in enumerate(_provider_input_types()):
        names = [py for py, _, _ in sdk_types._py_properties(cls)]
        for shift in range(3):
            obj = cls.__new__(cls)
            for i, py in enumerate(names):
                if (i + shift) % 3:
                    setattr(obj, py, values[(i + n + shift) % len(values)])  # the generated setter: pulumi.set
            assert list(synth_serialize.input_type_to_dict(obj).items()) == list(sdk_types.input_type_to_dict(obj).items())


@pulumi.input_type
class _Plain:
    def __init__(self, *, first=None, second=None):
        if first is not None:
            pulumi.set(self, "first", first)
        if second is not None:
            pulumi.set(self, "second", second)

    @property
    @pulumi.getter
    def first(self):
        """A docstring, as generated."""
        return pulumi.get(self, "first")

    @first.setter
    def first(self, value):
        pulumi.set(self, "first", value)

    @property
    @pulumi.getter(name="secondName")
    def second(self):
        return pulumi.get(self, "second")

    @second.setter
    def second(self, value):
        pulumi.set(self, "second", value)


@pulumi.input_type
class _Computed:
    def __init__(self, *, first=None):
        if first is not None:
            pulumi.set(self, "first", first)

    @property
    @pulumi.getter(name="third")
    def third(self):
        return pulumi.get(self, "first") or "a default"  # not the generated body: the SDK's function runs


@pulumi.input_type
class _ReadsAnother:
    def __init__(self, *, stored=None):
        pulumi.set(self, "stored", stored)

    @property
    @pulumi.getter(name="shown")
    def shown(self):
        return pulumi.get(self, "stored")  # the generated body, another name: that name is read


@pulumi.input_type
class _Deprecated:
    def __init__(self, *, first=None):
        if first is not None:
            pulumi.set(self, "first", first)

    @property
    @pulumi.getter(name="old")
    @pulumi.deprecated("use first")
    def old(self):
        return pulumi.get(self, "first")


@pytest.mark.parametrize("obj", [
    _Plain(first="a"), _Plain(second=["b"]), _Plain(first="a", second={"c": 1}), _Plain(),
    _Computed(first="a"), _Computed(), _ReadsAnother(stored="x"), _ReadsAnother(),
    _Deprecated(first="f"), _Deprecated(),
])
def test_hand_written_input_types_become_the_sdks_dicts(obj):
    assert list(synth_serialize.input_type_to_dict(obj).items()) == list(sdk_types.input_type_to_dict(obj).items())


def test_only_the_generated_getter_body_gets_a_plan():
    assert synth_serialize._input_plan(_Plain) == (("first", "first"), ("second", "secondName"))
    assert synth_serialize._input_plan(_ReadsAnother) == (("stored", "shown"),)
    assert synth_serialize._input_plan(_Deprecated) is not None  # the deprecated callable is what the SDK calls
    assert synth_serialize._input_plan(_Computed) is None
    assert synth_serialize.input_type_to_dict(_Computed()) == {"third": "a default"}
