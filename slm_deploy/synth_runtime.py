"""Per-resource costs of Pulumi's mock runtime that never reach what the synth records, removed.

The offline synth runs the real program under :func:`pulumi.runtime.set_mocks`. For every registered resource
the SDK (pulumi 3.272.0) also does work whose result the mock engine never looks at, or re-derives data it
already holds. Profiled on a 100-service stack (py-spy, 1,430 resources), these costs are removed while the synth
runs (:func:`fast_runtime`):

- **The stack trace of every registration** (``pulumi/runtime/resource.py:741-778``, ``_get_stack_trace``,
  called at 1160 and 833-837): ``traceback.extract_stack()`` plus a file URI per frame, ~6 % of the synth.
  It only fills ``RegisterResourceRequest.stackTrace`` / ``sourcePosition``, which the mock monitor never reads
  (``MockMonitor.RegisterResource``, ``pulumi/runtime/mocks.py:308-334``, reads ``type``, ``name``, ``parent``,
  ``object``, ``provider``, ``importId``, ``custom``, ``transforms``). Under the real engine it feeds the CLI's
  source positions; the synth swaps it for an empty trace.
- **The protobuf round trip of the inputs**: ``prepare_resource`` (``resource.py:203-319``) serializes them into a
  ``Struct`` (``rpc.serialize_properties``, 229-243) and the mock monitor, in the same process, deserializes it
  again (``mocks.py:318``). While ``prepare_resource`` runs for a non-remote resource in a dry run,
  ``rpc.serialize_properties`` of *its* inputs is :func:`slm_deploy.synth_serialize.serialize_properties` (the same
  walk, awaits, dependencies and errors, without re-deriving type information per value), and the ``Struct`` it
  returns carries only a hand-off token; the monitor's ``deserialize_properties`` of that ``Struct`` returns what
  the SDK's would have returned for the real one (:func:`slm_deploy.synth_serialize.deserialized_properties`).
  ``register_resource`` reads ``serialized_props`` elsewhere only when no monitor is set (1330-1334) or, in
  ``resolve_outputs``, outside a dry run or with legacy apply (``rpc.py:1520-1536``): then the real ``Struct`` is
  built. Values the mirror does not cover exactly (assets, archives, resource references, ...) get the real
  ``Struct`` too.
- **Input types to dicts**: ``rpc.serialize_property`` turns every input type (``PodSpecArgs``, ``ContainerArgs``,
  ...) into a dict with ``_types.input_type_to_dict`` (``_types.py:514-540``), which calls every property getter, each
  of them ``_types.get`` with its ``hasattr`` checks (``_types.py:678-706``), ~9 % of a 100-service synth. Where every
  getter of a class is the generated ``return pulumi.get(self, "<name>")`` (its bytecode compared once per class),
  :func:`slm_deploy.synth_serialize.input_type_to_dict` reads the stored values directly; any other class gets the
  SDK's function.
- **The protobuf round trip of the mock's outputs** (``mocks.py:330``: ``_sync_await(rpc.serialize_properties(
  state, {}))``, a nested event-loop pump per resource, then ``rpc.resolve_outputs`` deserializing it,
  ``rpc.py:1507``): :class:`FastMockMonitor` hands the outputs over the same way; ``resolve_outputs`` (its
  ``deserialize_properties(outputs, keep_unknowns)`` call) gets what it would have deserialized.
- **``rpc.contains_unknowns``** (``rpc.py:1460-1477``), run for every ``Output`` the program makes
  (``output.py:75``) and every serialized one: :func:`slm_deploy.synth_serialize.contains_unknowns`, the same
  walk answering plain leaves first.
- **``rpc.translate_output_properties``** (``rpc.py:1250-1377``), what ``resolve_outputs`` makes of every output:
  :func:`slm_deploy.synth_translate.translate_output_properties`, the same walk with each annotation's facts derived
  once per type.
- **``rpc.transfer_properties``** (``rpc.py:1187-1247``): each input property's output is one future set by its
  resolver instead of four futures and a task gathering them (:func:`_transfer_properties`).
- **Debug messages nobody receives**: the SDK logs ~3 debug lines per registration (``log.debug``, ``pulumi/log.py``
  ``debug``/``_log``); under mocks each becomes an ``engine_pb2.LogRequest`` for ``MockEngine.Log`` (``mocks.py:398-406``),
  which hands it to the synth's logger, where a debug line is dropped unless that logger is enabled for DEBUG (one
  with a resource first waits, in a task of its own, for the resource's URN). :func:`_debug` drops it at once when the
  engine is a ``MockEngine`` whose logger is not enabled for DEBUG; otherwise it is the SDK's function.
- **Type facts of a resource class, per registration**: ``resolve_outputs`` (``rpc.py:1480-1556``) asks
  ``_types.resource_types`` and ``resource_pulumi_to_py_names`` (``_types.py:1130-1155``) for the class of every
  registered resource; they read the class's annotations again each time (``get_type_hints`` with a throwaway class)
  and its properties' return hints. Both are functions of the class alone, which nothing changes while a program
  runs: :func:`_resource_types` and :func:`_resource_pulumi_to_py_names` compute them once per class per synth
  (``resolve_outputs``, their only caller in the SDKs used, only reads them).
- **Aliases and URNs the mock never reads**: ``prepare_aliases`` (``resource.py:129-167``) fills the request's
  ``aliases`` (not read by the mock monitor): skipped for plain aliases, which cannot fail; ``collapse_alias_to_urn``
  (481-514, for ``Resource._aliases``, read only without alias specs) and ``create_urn`` (517-547, computed per
  registration at 1326 and used only without a monitor) give the same URN output from one output instead of five.

Not removed: the executor thread each monitor call goes through (``loop.run_in_executor``, ``resource.py:1344``).
Running those calls inline on the loop's thread was measured three times (s5-perf, s7-start, s8-synth in
docs/benchmarks.md): no CPU saved, in-process or in a fresh process.

Removing awaits changes how the event loop interleaves the program's tasks; so does the stock runtime's executor
thread, whose monitor calls finish in no fixed order: a program whose result depended on that order would already
differ between two stock runs. The reference stacks record and render the same either way (tested).

None of this changes what the program sees or what is recorded: tests/slm_deploy/test_synth_runtime.py
synthesizes the reference stacks with the SDK's stock path and with this one and compares every record and every
rendered file, does the same for programs with assets, archives, resource references, secrets, unknowns and
outputs read back, and compares both paths on generated data. Everything here replaces SDK internals, so it is
pinned: used only with the pulumi version it was checked against (:data:`VERIFIED_PULUMI`); the test pins the
source of every SDK function stood in for or relied on, so a pulumi upgrade fails it until this is re-checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import itertools
import logging
import os
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import pulumi._types as sdk_types
import pulumi.log as pulumi_log
import pulumi.resource as pulumi_resource
from google.protobuf import struct_pb2
from pulumi import Alias, Output, Resource
from pulumi.output import _OutputData
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockEngine, MockMonitor, MockResourceArgs, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from slm_deploy import synth_serialize, synth_translate
from slm_deploy.synth_serialize import NotMirrored

__all__ = ["VERIFIED_PULUMI", "RUNTIME_ENV", "FastMockMonitor", "fast_runtime", "supported", "stock_requested",
           "handed_over"]

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


# --- the hand-off: a Struct carrying a token instead of the values, resolved on the far side ---

_HANDOFF_KEY = "__slm_deploy_synth_handoff"
_handoffs: dict[str, dict[str, Any]] = {}
_tokens = itertools.count()


def _hand_over(deserialized: dict[str, Any]) -> struct_pb2.Struct:
    token = f"{os.getpid()}-{next(_tokens)}"
    _handoffs[token] = deserialized
    struct = struct_pb2.Struct()
    struct[_HANDOFF_KEY] = token
    return struct


def handed_over(struct: Any) -> bool:
    """Whether ``struct`` is a hand-off (its values wait on this side, not in the ``Struct``)."""
    return (type(struct) is struct_pb2.Struct and len(struct.fields) == 1 and _HANDOFF_KEY in struct.fields
            and struct[_HANDOFF_KEY] in _handoffs)


def _deserialize_properties(props_struct, keep_unknowns=None, keep_internal=True):
    """``rpc.deserialize_properties`` (``rpc.py:826-896``) that answers a hand-off with the values it stands for."""
    if not handed_over(props_struct):
        return _STOCK["deserialize_properties"](props_struct, keep_unknowns, keep_internal)
    # The hand-off holds what the SDK returns in a dry run (unknowns as Unknown() whatever keep_unknowns says) with
    # internal keys kept: the monitor (mocks.py:318) and resolve_outputs (rpc.py:1507) call it so.
    if keep_internal is False or not settings.is_dry_run():
        raise AssertionError("a synth hand-off deserialized outside the mock's dry run")
    return _handoffs.pop(props_struct[_HANDOFF_KEY])


_preparing: ContextVar[Any] = ContextVar("slm_deploy_synth_preparing", default=None)


async def _prepare_resource(res, ty, custom, remote, props, opts, typ=None):
    """``prepare_resource`` (``resource.py:203-319``) during which its own ``serialize_properties`` call hands over."""
    token = _preparing.set(None if remote else props)
    try:
        return await _STOCK["prepare_resource"](res, ty, custom, remote, props, opts, typ)
    finally:
        try:
            _preparing.reset(token)
        except ValueError:
            # A registration abandoned by a failed program is closed by the garbage collector, outside the task
            # whose context holds the token: that context is gone, nothing to restore, and GeneratorExit must
            # go on as with the stock prepare_resource (a ValueError here was caught by do_register instead).
            pass


async def _serialize_properties(inputs, property_deps, resource_obj=None, input_transformer=None, typ=None,
                                keep_output_values=False, exclude_resource_refs_from_deps=False):
    """``rpc.serialize_properties`` (``rpc.py:163-255``); for the inputs of a registration in a dry run (the call in
    ``prepare_resource``, ``resource.py:229-243``), a hand-off of what the monitor would deserialize."""
    if (_preparing.get() is not inputs or keep_output_values or exclude_resource_refs_from_deps
            or settings.excessive_debug_output or not settings.is_dry_run() or settings.is_legacy_apply_enabled()):
        return await _STOCK["serialize_properties"](inputs, property_deps, resource_obj, input_transformer, typ,
                                                    keep_output_values, exclude_resource_refs_from_deps)
    _preparing.set(None)
    serialized = await synth_serialize.serialize_properties(inputs, property_deps, resource_obj, input_transformer,
                                                            typ)
    try:
        return _hand_over(synth_serialize.deserialized_properties(serialized))
    except NotMirrored:
        struct = struct_pb2.Struct()
        for key, value in serialized.items():
            struct[key] = value
        return struct


class FastMockMonitor(MockMonitor):
    """``MockMonitor`` whose ``RegisterResource`` hands the outputs over instead of serializing them.

    The body is ``MockMonitor.RegisterResource`` of pulumi 3.272.0 (``mocks.py:308-334``) with only the output
    serialization changed: the values ``resolve_outputs`` would deserialize from the SDK serializer's ``Struct``
    (:func:`slm_deploy.synth_serialize.deserialized_properties`: the mock's outputs are plain data), else the SDK's
    own serializer (anything the mirror does not cover exactly).
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
        try:
            if not settings.is_dry_run():
                raise NotMirrored("not a dry run")
            obj_proto = _hand_over(synth_serialize.deserialized_properties(state))
        except NotMirrored:
            obj_proto = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)


def _debug(msg, resource=None, stream_id=None, ephemeral=None):
    """``pulumi.log.debug``: nothing when the engine is a ``MockEngine`` whose logger drops debug lines (what
    ``MockEngine.Log`` would do with it, ``mocks.py:398-400``), else the SDK's function."""
    engine = settings.get_engine()
    if type(engine) is MockEngine and not engine.logger.isEnabledFor(logging.DEBUG):
        return None
    return _STOCK["debug"](msg, resource, stream_id, ephemeral)


_class_facts: dict[tuple[str, type], Any] = {}
"""Per synth: ``resource_types`` and ``resource_pulumi_to_py_names`` of each resource class (cleared after it)."""


def _once_per_class(name: str, resource_cls: type) -> Any:
    """The SDK's ``_types.<name>(resource_cls)``, computed once per class per synth."""
    facts = _class_facts.get((name, resource_cls))
    if facts is None:
        facts = _class_facts[name, resource_cls] = _STOCK[name](resource_cls)
    return facts


def _resource_types(resource_cls: type) -> dict[str, type]:
    """``_types.resource_types`` (``_types.py:1130-1141``), once per class per synth."""
    return _once_per_class("resource_types", resource_cls)


def _resource_pulumi_to_py_names(resource_cls: type) -> dict[str, str]:
    """``_types.resource_pulumi_to_py_names`` (``_types.py:1144-1155``), once per class per synth."""
    return _once_per_class("resource_pulumi_to_py_names", resource_cls)


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def _plain_alias(alias: Any) -> bool:
    """An alias whose URN needs nothing awaited: a string, or an ``Alias`` naming at most a name and a type (the
    shape pulumi_kubernetes gives every resource it renamed across API versions)."""
    if type(alias) is str:
        return True
    return (type(alias) is Alias and alias.parent is ... and alias.stack in (..., None) and alias.project in (..., None)
            and (alias.name is ... or type(alias.name) is str) and (alias.type_ is ... or type(alias.type_) is str))


async def _prepare_aliases(resource, resource_options, supports_alias_specs):
    """``prepare_aliases`` (``resource.py:129-167``) fills ``RegisterResourceRequest.aliases``, which the mock monitor
    never reads (``mocks.py:308-334``). For plain aliases (:func:`_plain_alias`, nothing that could fail or be
    awaited) the request goes without them; anything else is prepared as the SDK prepares it."""
    aliases = resource_options.aliases if resource_options is not None else None
    if supports_alias_specs and all(_plain_alias(a) for a in aliases or ()):
        return []
    return await _STOCK["prepare_aliases"](resource, resource_options, supports_alias_specs)


def _collapse_alias_to_urn(alias, default_name, default_type, default_parent):
    """``collapse_alias_to_urn`` (``resource.py:481-514``), called by ``Resource.__init__`` (``pulumi/resource.py:1090``)
    for every alias: for a plain ``Alias`` the same URN, known, with the same resources (the parent's, through its
    URN), from one ``apply`` instead of the SDK's chain of five outputs; anything else as the SDK does it. (Only
    ``all_aliases`` reads the result, when the monitor lacks alias specs; the mock monitor has them.)"""
    if type(alias) is not Alias or not _plain_alias(alias):
        return _STOCK["collapse_alias_to_urn"](alias, default_name, default_type, default_parent)
    name = alias.name if alias.name is not ... else default_name
    type_ = alias.type_ if alias.type_ is not ... else default_type
    if type(name) is not str or type(type_) is not str or not (default_parent is None
                                                               or isinstance(default_parent, Resource)):
        return _STOCK["collapse_alias_to_urn"](alias, default_name, default_type, default_parent)
    if default_parent is None:
        return Output.from_input(f"urn:pulumi:{settings.get_stack()}::{settings.get_project()}::{type_}::{name}")
    return default_parent.urn.apply(lambda u: u[0 : u.rfind("::")] + "$" + type_ + "::" + name)


def _create_urn(name, type_, parent=None, project=None, stack=None):
    """``create_urn`` (``resource.py:517-547``; ``register_resource`` computes one per registration at 1326 and uses it
    only when no monitor is set): for a text name, type and parent URN the same value, known, without resources,
    as one output instead of five; anything else as the SDK does it."""
    if type(name) is not str or type(type_) is not str or not (parent is None or type(parent) is str):
        return _STOCK["create_urn"](name, type_, parent, project, stack)
    if parent is not None:
        prefix = parent[0 : parent.rfind("::")] + "$"
    else:
        stack = settings.get_stack() if stack is None else stack
        project = settings.get_project() if project is None else project
        if type(stack) is not str or type(project) is not str:
            return _STOCK["create_urn"](name, type_, parent, project, stack)
        prefix = "urn:pulumi:" + stack + "::" + project + "::"
    return Output.from_input(prefix + type_ + "::" + name)


def _transfer_properties(res, props, custom):
    """``rpc.transfer_properties`` (``rpc.py:1187-1247``): an output per input property that the registration's
    result resolves. The SDK builds each from four futures (dependencies, value, known, secret) and a task that
    awaits them into one ``_OutputData``; here the resolver sets that ``_OutputData`` (the same fields: the resource
    added to the dependencies, the value, known, secret; or the failure) on one future. What the output yields, and
    when a failure is raised, is the same."""
    resolvers = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue
        data: asyncio.Future = asyncio.Future()
        resolvers[name] = functools.partial(_resolve_output, res, data)
        res.__dict__[name] = Output._from_data(data)
    return resolvers


def _resolve_output(r, data, value, is_known, is_secret, deps, failed):
    deps_union = set(deps) if deps else set()
    deps_union.add(r)
    if failed is not None:
        data.set_exception(failed)
    else:
        data.set_result(_OutputData(resources=deps_union, value=value, is_known=is_known, is_secret=is_secret))


_STOCK: dict[str, Any] = {}
"""The SDK functions replaced while a fast synth runs, by name (filled by :func:`fast_runtime`)."""

_PATCHES = (
    (sdk_resource, "_get_stack_trace", _no_stack_trace),
    (sdk_resource, "prepare_aliases", _prepare_aliases),
    (sdk_resource, "create_urn", _create_urn),
    (pulumi_resource, "collapse_alias_to_urn", _collapse_alias_to_urn),
    (sdk_resource, "prepare_resource", _prepare_resource),
    (rpc, "serialize_properties", _serialize_properties),
    (rpc, "deserialize_properties", _deserialize_properties),
    (rpc, "contains_unknowns", synth_serialize.contains_unknowns),
    (rpc, "translate_output_properties", synth_translate.translate_output_properties),
    (rpc, "transfer_properties", _transfer_properties),
    (pulumi_log, "debug", _debug),
    (sdk_types, "resource_types", _resource_types),
    (sdk_types, "resource_pulumi_to_py_names", _resource_pulumi_to_py_names),
)


@contextlib.contextmanager
def fast_runtime() -> Iterator[bool]:
    """While the synth runs: the SDK functions above replaced. Yields whether the fast runtime is in use (False on an
    unverified pulumi version or with ``SLM_DEPLOY_SYNTH_RUNTIME=stock``: then nothing is changed)."""
    if not supported() or stock_requested():
        yield False
        return
    if _STOCK:  # a synth inside a synth: the outer one's replacements stay in place
        yield True
        return
    for module, name, replacement in _PATCHES:
        _STOCK[name] = getattr(module, name)
        setattr(module, name, replacement)
    try:
        yield True
    finally:
        for module, name, _ in _PATCHES:
            setattr(module, name, _STOCK.pop(name))
        _handoffs.clear()
        _class_facts.clear()
