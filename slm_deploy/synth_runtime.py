"""Two per-resource costs of Pulumi's mock runtime that never reach what the synth records, removed.

The offline synth runs the real program under :func:`pulumi.runtime.set_mocks`. For every registered resource
the SDK (pulumi 3.272.0) also does work whose result the mock engine never looks at, or re-derives data it
already holds. Profiled on a 100-service stack (py-spy, 1,430 resources), two such costs stand out:

- **The stack trace of every registration** (``pulumi/runtime/resource.py:741-778``, ``_get_stack_trace``,
  called at 1160 and 833-837): ``traceback.extract_stack()`` plus a file URI per frame, ~6 % of the synth.
  It only fills ``RegisterResourceRequest.stackTrace`` / ``sourcePosition``, which the mock monitor never reads
  (``MockMonitor.RegisterResource``, ``pulumi/runtime/mocks.py:308-334``, reads ``type``, ``name``, ``parent``,
  ``object``, ``provider``, ``importId``, ``custom``, ``transforms``). Under the real engine it feeds the CLI's
  source positions; the synth swaps it for an empty trace only while it runs (:func:`fast_runtime`).
- **The mock's outputs, serialized through the SDK's async serializer** (``mocks.py:330``:
  ``_sync_await(rpc.serialize_properties(state, {}))``): a nested event-loop pump per resource over data that
  is already plain JSON (our mock echoes the deserialized inputs, ``slm_deploy.synth._mock_outputs``), ~13 %.
  :class:`FastMockMonitor` builds the same ``Struct`` directly when every value is plain (``dict`` with ``str``
  keys, ``list``, ``str``, ``bool``, ``int``, ``float``, ``None``) and uses the SDK's serializer otherwise
  (resource references, assets, anything else). For plain data ``serialize_properties`` does exactly this
  (``rpc.py:217-255`` drops top-level ``None``; ``rpc.py:443-458`` lists, ``724-766`` mappings without a type,
  ``786-787`` scalars as they are), and both end in ``Struct.__setitem__``.

Neither changes what the program sees or what is recorded: tests/slm_deploy/test_synth_runtime.py synthesizes the
reference stacks with the SDK's stock path and with this one and compares every record, and compares the
``Struct`` of both serializers on generated data. Both replace SDK internals, so they are pinned: they are used
only with the pulumi version they were checked against (:data:`VERIFIED_PULUMI`); the test also pins the source
of the SDK functions they stand in for, so a pulumi upgrade fails it until this module is re-checked.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

__all__ = ["VERIFIED_PULUMI", "RUNTIME_ENV", "FastMockMonitor", "fast_runtime", "supported", "plain_struct",
           "stock_requested"]

VERIFIED_PULUMI = "3.272.0"
"""The pulumi SDK version whose internals this module was checked against (line numbers above)."""

RUNTIME_ENV = "SLM_DEPLOY_SYNTH_RUNTIME"
"""``stock``: every synth of this process uses the SDK's own mock runtime (an escape hatch, and what
scripts/benchmark.py compares against in the same run); unset or ``fast``: this module where supported."""


def stock_requested() -> bool:
    """Whether :data:`RUNTIME_ENV` asks for the SDK's stock runtime."""
    return os.environ.get(RUNTIME_ENV, "").strip().lower() == "stock"


@lru_cache(maxsize=1)
def supported() -> bool:
    """True when the installed pulumi SDK is :data:`VERIFIED_PULUMI`; any other version gets the stock runtime."""
    try:
        return importlib.metadata.version("pulumi") == VERIFIED_PULUMI
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - pulumi is a dependency
        return False


def _is_plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or kind is int or kind is float or value is None:
        return True
    if kind is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    if kind is list:
        return all(_is_plain(v) for v in value)
    return False


def plain_struct(state: dict[str, Any]) -> struct_pb2.Struct | None:
    """The ``Struct`` ``rpc.serialize_properties(state, {})`` would build, or None when ``state`` is not plain data."""
    if type(state) is not dict or not _is_plain(state):
        return None
    struct = struct_pb2.Struct()
    for key, value in state.items():
        if value is not None:  # serialize_properties treats top-level None as absent
            struct[key] = value
    return struct


class FastMockMonitor(MockMonitor):
    """``MockMonitor`` whose ``RegisterResource`` builds plain outputs without the async serializer.

    The body is ``MockMonitor.RegisterResource`` of pulumi 3.272.0 (``mocks.py:308-334``) with only the output
    serialization changed (:func:`plain_struct`, else the SDK's own serializer).
    """

    def RegisterResource(self, request):  # noqa: N802 - the SDK's method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        resource_args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=_resolve_callbacks(request.transforms),
        )
        id_, state = self.mocks.new_resource(resource_args)
        obj_proto = plain_struct(state)
        if obj_proto is None:
            obj_proto = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextlib.contextmanager
def fast_runtime() -> Iterator[bool]:
    """While the synth runs: registrations carry no stack trace (the mock never reads it). Yields whether the fast
    runtime is in use (False on an unverified pulumi version or with ``SLM_DEPLOY_SYNTH_RUNTIME=stock``: then
    nothing is changed)."""
    if not supported() or stock_requested():
        yield False
        return
    original = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = _no_stack_trace
    try:
        yield True
    finally:
        sdk_resource._get_stack_trace = original
