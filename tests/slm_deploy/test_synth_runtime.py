"""The synth's fast mock runtime (slm_deploy/synth_runtime.py) records exactly what the SDK's stock runtime records."""

from __future__ import annotations

import asyncio
import hashlib
import inspect

import pulumi
import pulumi.runtime.resource as sdk_resource
import pytest
from google.protobuf import struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from slm_deploy import synth_runtime
from slm_deploy.pipeline import synth_stack
from slm_deploy.synth import SynthError, synthesize
from slm_deploy.synth_runtime import FastMockMonitor, plain_struct
from stacks.loader import load_stack

# The SDK functions synth_runtime stands in for or changes, as they were when it was checked (pulumi 3.272.0).
PINNED_SOURCES = {
    "MockMonitor.RegisterResource": (MockMonitor.RegisterResource,
                                     "756b6fbc95aee5833987b9b532b5d10c364e29c37c2f6a52363592ebab2565e5"),
    "serialize_properties": (rpc.serialize_properties, "d101e72bd9ececa92586e13cddd7d0d28d97b0418b28cab0e7e688d86f7cfeff"),
    "serialize_property": (rpc.serialize_property, "7e1361fad73506d2c78408541126e705a07da73e5ef44e348e369394f3e30a7a"),
    "_get_stack_trace": (sdk_resource._get_stack_trace,
                         "3943b2273016925109e1c3a7bc603db06a44ea09ff3494c29544e44bccf8dd1f"),
    "_get_source_position": (sdk_resource._get_source_position,
                             "eb98b10e3279d85c8f4ac088223695dac33fb23f6ee06e081cd29bc21b424a79"),
    "register_resource": (sdk_resource.register_resource,
                          "633fd2207a3851a366731f9ec5b1f62ecb07b7fc823dfe5a0a789e8e1e5dada3"),
}


@pytest.mark.parametrize("name", sorted(PINNED_SOURCES))
def test_sdk_internals_are_the_checked_ones(name):
    """A pulumi upgrade changes these: re-check slm_deploy/synth_runtime.py against the new SDK, then the hashes."""
    function, digest = PINNED_SOURCES[name]
    assert hashlib.sha256(inspect.getsource(function).encode()).hexdigest() == digest
    assert synth_runtime.supported()


def _sdk_struct(state: dict) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(state, {}))
    finally:
        loop.close()


_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8)
_SECRET = st.builds(lambda v: {rpc._special_sig_key: rpc._special_secret_sig, "value": v}, st.text(max_size=8))
_JSON = st.recursive(_SCALARS | _SECRET, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _JSON, max_size=6))
def test_plain_outputs_serialize_like_the_sdk(state):
    assert plain_struct(state) == _sdk_struct(state)


def test_top_level_none_is_absent_and_nested_none_is_null():
    struct = plain_struct({"a": None, "b": {"c": None}, "d": [None, 1]})
    assert struct == _sdk_struct({"a": None, "b": {"c": None}, "d": [None, 1]})
    assert "a" not in struct and struct["b"].fields["c"].WhichOneof("kind") == "null_value"


@pytest.mark.parametrize("state", [
    {"asset": pulumi.StringAsset("x")},
    {"nested": {"asset": pulumi.FileAsset("/x")}},
    {"tuple": (1, 2)},
    {"key": {1: "non-string key"}},
    {"bytes": b"x"},
])
def test_anything_but_plain_data_goes_to_the_sdk_serializer(state):
    assert plain_struct(state) is None


class _Thing(pulumi.CustomResource):
    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("test:index:Thing", name, props, opts)


def _mixed_program():
    """Inputs of every shape the fast monitor must hand back to the SDK serializer (assets, archives, resource
    references, secrets, unknown-free outputs) or serialize itself."""
    seen = {}
    first = _Thing("first", {"text": "a", "n": 2, "none": None, "nested": {"x": [1, 2.5, None, True]}})
    second = _Thing("second", {
        "asset": pulumi.StringAsset("hello"), "archive": pulumi.AssetArchive({"f": pulumi.StringAsset("x")}),
        "ref": first, "from_output": first.id.apply(lambda i: f"{i}-derived"),
        "secret": pulumi.Output.secret("s3cr3t"),
    })
    seen["trace"] = sdk_resource._get_stack_trace
    _Thing("third", {"copy": second.id, "echo": second.urn.apply(lambda u: u.split("::")[-1])})
    return seen


def _comparable(value):
    """Assets and archives compare by identity; compare them by type and content."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return (type(value).__name__, _comparable({k: v for k, v in vars(value).items() if not k.startswith("_")}),
                _comparable(getattr(value, "assets", None)), getattr(value, "text", None), getattr(value, "path", None))
    return value


def _records(result):
    return [(r.type, r.name, r.custom, r.parent, r.depends_on, _comparable(r.inputs)) for r in result.resources]


def test_mixed_inputs_record_the_same_with_both_runtimes(monkeypatch):
    built = []

    def counting(state):
        built.append(plain_struct(state) is not None)
        return plain_struct(state)

    monkeypatch.setattr(synth_runtime, "plain_struct", counting)
    fast = synthesize(_mixed_program, project="p", stack="s")
    assert built.count(False) == 1 and built.count(True) >= 2  # "second" (assets) went to the SDK serializer
    stock = synthesize(_mixed_program, project="p", stack="s", stock_runtime=True)
    assert _records(fast) == _records(stock)
    assert [r.name for r in fast.resources] == ["first", "second", "third"]
    second = _comparable(fast.resources[1].inputs)
    assert second["asset"][3] == "hello" and second["ref"] == "first-id" and second["from_output"] == "first-id-derived"


def test_the_stack_trace_is_skipped_only_while_the_synth_runs():
    original = sdk_resource._get_stack_trace
    seen = {}

    def program():
        seen.update(_mixed_program())

    synthesize(program, project="p", stack="s")
    assert seen["trace"] is not original and len(seen["trace"]().frames) == 0
    assert sdk_resource._get_stack_trace is original

    def failing():
        raise RuntimeError("boom")

    with pytest.raises(SynthError):
        synthesize(failing, project="p", stack="s")
    assert sdk_resource._get_stack_trace is original
    synthesize(program, project="p", stack="s", stock_runtime=True)
    assert seen["trace"] is original


def test_an_unverified_sdk_version_gets_the_stock_runtime(monkeypatch):
    monkeypatch.setattr(synth_runtime, "supported", lambda: False)
    original = sdk_resource._get_stack_trace
    with synth_runtime.fast_runtime() as fast:
        assert fast is False and sdk_resource._get_stack_trace is original


def test_the_environment_can_ask_for_the_stock_runtime(monkeypatch):
    monitors = []

    def program():
        monitors.append(type(pulumi.runtime.settings.SETTINGS.monitor))
        monitors.append(sdk_resource._get_stack_trace)

    monkeypatch.setenv(synth_runtime.RUNTIME_ENV, "stock")
    synthesize(program, project="p", stack="s")
    monkeypatch.setenv(synth_runtime.RUNTIME_ENV, "fast")
    synthesize(program, project="p", stack="s")
    assert monitors[0] is MockMonitor and monitors[1] is sdk_resource._get_stack_trace
    assert monitors[2] is FastMockMonitor and monitors[3] is not sdk_resource._get_stack_trace


def test_the_fast_monitor_is_the_one_registering():
    monitors = []

    def program():
        monitors.append(type(pulumi.runtime.settings.SETTINGS.monitor))
        _Thing("x", {"a": 1})

    synthesize(program, project="p", stack="s")
    synthesize(program, project="p", stack="s", stock_runtime=True)
    assert monitors == [FastMockMonitor, MockMonitor]


@pytest.mark.parametrize("stack", ["prod", "dev", "edge"])
def test_reference_stacks_record_the_same_with_both_runtimes(stack, synthesized):
    """Kubernetes (prod: gateway, vLLM, monitoring), Docker (dev) and Docker over ssh with an image build (edge)."""
    assert _records(synthesized(stack)) == _records(synth_stack(load_stack(stack), stock_runtime=True))
