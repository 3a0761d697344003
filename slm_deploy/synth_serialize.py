"""A registration's inputs and the mock's outputs, handed across without the protobuf round trip (pulumi 3.272.0).

Under the mock runtime every registration's inputs make a round trip the mock never needs: the SDK serializes
them into a protobuf ``Struct`` (``prepare_resource`` -> ``rpc.serialize_properties``, ``pulumi/runtime/resource.py``
:229-243, ``rpc.py``:163-255), and the mock monitor, in the same process, deserializes that ``Struct`` again
(``mocks.py``:318, ``rpc.deserialize_properties``, ``rpc.py``:826-896). The mock's outputs make the same trip back
(``mocks.py``:330, then ``rpc.resolve_outputs`` -> ``deserialize_properties``, ``rpc.py``:1480-1514). This module
produces, in Python, exactly what each trip's far end gets:

- :func:`serialize_properties` is ``rpc.serialize_properties`` for a registration (``keep_output_values`` and
  ``exclude_resource_refs_from_deps`` false, as ``prepare_resource`` passes them for a non-remote resource): the same
  walk as ``rpc.serialize_property`` (``rpc.py``:355-822) over the shapes programs pass -- ``str``/``int``/``float``/
  ``bool``/``None``, ``list``/``tuple``, ``dict``, ``Output``, input types -- with the same type-driven key
  translation, the same dependencies (in the same order, ``data.resources`` updated the same way), the same awaits
  and the same errors; anything else (resources, assets, archives, awaitables, ``dict`` subclasses, discriminated
  unions, ...) is handed to the SDK's own ``serialize_property`` for that value. An input type becomes its dict
  through :func:`input_type_to_dict` (the SDK's, with the generated getters read once per class).
- :func:`deserialized` is ``deserialize_properties(struct)`` of the ``Struct`` those values would make: numbers
  come back as ``float`` (a ``Struct`` holds doubles), ``None`` entries of a mapping are dropped, the unknown
  sentinel becomes ``Unknown()`` (the synth is a dry run), a secret inside a list or mapping makes the whole list or mapping secret
  (``rpc.py``:1150-1170). Anything it does not mirror exactly -- asset, archive, resource or output-value signatures,
  non-``str`` keys, text that is not UTF-8, numbers a double cannot hold -- raises :class:`NotMirrored`, and the
  caller makes the real ``Struct`` instead.

Keys come back in insertion order, where the SDK's come in the protobuf map's hash order: no record, manifest or
program result depends on it (the render sorts keys; tests/slm_deploy/test_synth_runtime.py compares whole builds).
"""

from __future__ import annotations

import types
import typing
from collections import abc
from typing import Any

import pulumi
from pulumi import _types
from pulumi.output import Output, Unknown
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import resource_pb2

__all__ = ["NotMirrored", "serialize_properties", "deserialized", "deserialized_properties", "contains_unknowns",
           "input_type_to_dict"]

_SIG = rpc._special_sig_key
_SECRET = rpc._special_secret_sig
_UNKNOWN = rpc.UNKNOWN
_LEAVES = frozenset({str, int, float, bool, type(None)})
_DICT_ORIGINS = (dict, typing.Dict, abc.Mapping, typing.Mapping)  # noqa: UP006 - the SDK's list (rpc.py:726-731)
_MISSING = object()


class NotMirrored(Exception):
    """A value :func:`deserialized` does not mirror exactly: the caller builds the real ``Struct``."""


# --- type information, computed once per type (the SDK recomputes it for every value) ---

_unwrapped: dict[Any, Any] = {}


def _unwrap(typ: Any) -> Any:
    """``serialize_property``'s first steps on ``typ`` (``rpc.py``:395, 433-434): ``unwrap_type``, then ``Any`` -> None.
    Raises what ``unwrap_type`` raises."""
    try:
        found = _unwrapped.get(typ, _MISSING)
    except TypeError:  # an unhashable annotation: not cached
        return _unwrap_uncached(typ)
    if found is _MISSING:
        found = _unwrapped[typ] = _unwrap_uncached(typ)
    return found


def _unwrap_uncached(typ: Any) -> Any:
    typ = _types.unwrap_type(typ) if typ else typ
    return None if typ is Any else typ


_element_types: dict[Any, Any] = {}


def _element_type(typ: Any) -> Any:
    """``rpc._get_list_element_type(typ)`` (raises for a type that is not a list)."""
    try:
        found = _element_types.get(typ, _MISSING)
    except TypeError:
        return rpc._get_list_element_type(typ)
    if found is _MISSING:
        found = _element_types[typ] = rpc._get_list_element_type(typ)
    return found


_DELEGATE = "delegate"
_py_to_pulumi: dict[type, dict[str, str]] = {}
_mapping_plans: dict[Any, tuple] = {}


def _names(cls: type) -> dict[str, str]:
    names = _py_to_pulumi.get(cls)
    if names is None:
        names = _py_to_pulumi[cls] = _types.input_type_py_to_pulumi_names(cls)
    return names


def _mapping_plan(typ: Any) -> tuple:
    """How ``serialize_property`` treats a mapping's keys under ``typ`` (``rpc.py``:707-765): ``("input", names,
    types)`` translate through the input type's names, ``("dict", value_type)`` keep keys and type every value,
    ``("keep-transformer",)`` use the caller's transformer, no types; ``("untranslated",)`` keep keys, no types;
    ``(_DELEGATE,)`` a discriminated union, reduced per value: left to the SDK."""
    try:
        plan = _mapping_plans.get(typ)
    except TypeError:
        return (_DELEGATE,)
    if plan is None:
        plan = _mapping_plans[typ] = _mapping_plan_uncached(typ)
    return plan


def _mapping_plan_uncached(typ: Any) -> tuple:
    if _types.is_discriminated_union(typ):
        return (_DELEGATE,)
    if _types.is_input_type(typ):
        return ("input", _names(typ), _types.input_type_types(typ))
    if typ is dict or typing.get_origin(typ) in _DICT_ORIGINS:
        args = typing.get_args(typ)
        if len(args) == 2 and args[0] is str:
            return ("dict", args[1])
        return ("keep-transformer",)
    return ("untranslated",)


# --- input types: _types.input_type_to_dict with the getters read once per class ---

def _reference_getter() -> Any:
    # As generated: in a module that imports pulumi, which makes the call LOAD_GLOBAL + LOAD_ATTR, not LOAD_METHOD.
    namespace: dict[str, Any] = {}
    exec("import pulumi\n\n\ndef getter(self):\n    return pulumi.get(self, 'name')\n", namespace)  # noqa: S102
    return namespace["getter"].__code__


_GETTER = _reference_getter()
"""The body of every property getter the providers generate (``return pulumi.get(self, "<name>")``), as bytecode."""


def _stored_name(fget: Any) -> str | None:
    """The attribute ``fget`` returns when it is exactly ``return pulumi.get(self, "<name>")`` with this process's
    ``pulumi`` (same instructions, same names, one argument, no closure; the docstring may differ), else None."""
    if type(fget) is not types.FunctionType or fget.__closure__ is not None:
        return None
    code = fget.__code__
    if (code.co_code != _GETTER.co_code or code.co_names != _GETTER.co_names or code.co_argcount != 1
            or code.co_kwonlyargcount or code.co_posonlyargcount or len(code.co_consts) < 2):
        return None
    name = code.co_consts[1]  # LOAD_CONST 1, as in the template (0 is the docstring or None)
    module = fget.__globals__.get("pulumi")
    if type(name) is not str or not name or module is not pulumi or pulumi.get is not _types.get:
        return None
    return name


_input_plans: dict[type, tuple[tuple[str, str], ...] | None] = {}


def _input_plan(cls: type) -> tuple[tuple[str, str], ...] | None:
    """``((stored name, Pulumi name), ...)`` in ``_types._py_properties`` order when every getter
    ``input_type_to_dict`` would call (``_types.py``:514-540, the deprecated-callable bypass included) is the
    generated one; then each ``fget(obj)`` is ``_types.get(obj, name)``, which for an input type that is neither an
    output type nor a ``dict`` is ``obj.__dict__.get(name)`` (``_types.py``:678-706). Else None: the SDK's function."""
    if not _types.is_input_type(cls) or _types.is_output_type(cls) or issubclass(cls, dict):
        return None
    plan = []
    for _, pulumi_name, prop in _types._py_properties(cls):
        fget = prop.fget
        deprecated_callable = fget.__dict__.get(_types._PULUMI_DEPRECATED_CALLABLE)
        name = _stored_name(deprecated_callable if deprecated_callable is not None else fget)
        if name is None:
            return None
        plan.append((name, pulumi_name))
    return tuple(plan)


def input_type_to_dict(obj: Any) -> dict[str, Any]:
    """``_types.input_type_to_dict(obj)``: same keys, values and order; the getters are checked once per class
    (:func:`_input_plan`; a class whose properties change after its first use is not expected)."""
    cls = type(obj)
    plan = _input_plans.get(cls, _MISSING)
    if plan is _MISSING:
        plan = _input_plans[cls] = _input_plan(cls)
    if plan is None:
        return _types.input_type_to_dict(obj)
    stored = obj.__dict__
    result = {}
    for name, pulumi_name in plan:
        value = stored.get(name)
        if value is not None:
            result[pulumi_name] = value
    return result


# --- serialize: rpc.serialize_properties / serialize_property for a registration ---

async def serialize_properties(inputs: Any, property_deps: dict, resource_obj: Any, input_transformer: Any,
                               typ: Any) -> dict[str, Any]:
    """``rpc.serialize_properties(inputs, property_deps, resource_obj, input_transformer, typ)`` (``rpc.py``:163-255)
    up to the ``Struct``: the serialized value of each property that is not None, by its translated name, in order.
    ``property_deps`` is filled as the SDK fills it."""
    get_type = _no_type
    translate = input_transformer
    if typ is not None:
        py_name_to_pulumi_name = _names(typ)
        types = _types.input_type_types(typ)

        def translate(k):
            return py_name_to_pulumi_name.get(k) or k

        def get_type(k):
            return types.get(translate(k))

    serialized: dict[str, Any] = {}
    for k in inputs:
        v = inputs[k]
        deps: list = []
        try:
            result = await _serialize(v, deps, k, resource_obj, input_transformer, get_type(k))
        except ValueError as e:
            raise ValueError(
                f"While processing input: {repr(k)}, type {type(k)}, value {repr(v)}\n"
                + f"ValueError has risen: {e}"
            ) from e
        except AssertionError as e:
            raise AssertionError(
                f"While processing input: {repr(k)}, type {type(k)}, value {repr(v)}\n"
                + f"AssertionError has risen: {e}"
            ) from e
        if result is not None:
            translated_name = translate(k) if translate is not None else k
            serialized[translated_name] = result
            property_deps[translated_name] = deps
    return serialized


def _no_type(_key: str) -> None:
    return None


async def _serialize(value: Any, deps: list, key: Any, res: Any, transformer: Any, typ: Any) -> Any:
    """``rpc.serialize_property(value, deps, key, res, transformer, typ)`` (``keep_output_values`` and
    ``exclude_resource_refs_from_deps`` false). Plain leaves are returned inline by the callers below, after the
    same ``unwrap_type`` of their type the SDK does first."""
    kind = type(value)
    if kind not in _WALKED:
        return await rpc.serialize_property(value, deps, key, res, transformer, typ, False, False)
    typ = _unwrap(typ)
    if kind in _LEAVES:
        return value
    if kind is list or kind is tuple:  # rpc.py:438-456
        element_type = _element_type(typ)
        items = []
        for item in value:
            if type(item) in _LEAVES:
                _unwrap(element_type)
                items.append(item)
            else:
                items.append(await _serialize(item, deps, key, res, transformer, element_type))
        return items
    if kind is dict:  # rpc.py:705-766
        if typ is None:
            plan: tuple = ("keep-transformer",)
        else:
            plan = _mapping_plan(typ)
            if plan[0] is _DELEGATE:
                return await rpc.serialize_property(value, deps, key, res, transformer, typ, False, False)
        mode = plan[0]
        translate = transformer if mode == "keep-transformer" else None
        obj = {}
        for k in value:
            if mode == "input":
                names, types = plan[1], plan[2]
                transformed_key = names.get(k) or k
                item_type = types.get(transformed_key)
            else:
                transformed_key = translate(k) if translate is not None else k
                item_type = plan[1] if mode == "dict" else None
            item = value[k]
            if type(item) in _LEAVES:
                _unwrap(item_type)
                obj[transformed_key] = item
            else:
                obj[transformed_key] = await _serialize(item, deps, k, res, transformer, item_type)
        return obj
    if kind is Output:  # rpc.py:607-675
        data = await value._data
        value_resources = data.resources
        deps.extend(value_resources)
        is_known = data.is_known
        is_secret = data.is_secret
        promise_deps: list = []
        inner = None if contains_unknowns(data.value) else data.value
        if type(inner) in _LEAVES:
            _unwrap(typ)
            serialized = inner
        else:
            serialized = await _serialize(inner, promise_deps, key, res, transformer, typ)
        deps.extend(promise_deps)
        value_resources.update(promise_deps)
        secrets = settings.monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS)
        if not is_known:
            if is_secret and secrets:
                return {_SIG: _SECRET, "value": _UNKNOWN}
            return _UNKNOWN
        if is_secret and secrets:
            return {_SIG: _SECRET, "value": serialized}
        return serialized
    # an input type (rpc.py:678-694)
    as_dict = input_type_to_dict(value)
    types = _types.input_type_types(kind)
    obj = {}
    for k, item in as_dict.items():
        item_type = types.get(k)
        if type(item) in _LEAVES:
            _unwrap(item_type)
            obj[k] = item
        else:
            obj[k] = await _serialize(item, deps, key, res, transformer, item_type)
    return obj


class _Walked(dict):
    """Which value types :func:`_serialize` walks itself: the plain ones, ``Output`` (exactly), and input types that
    meet none of ``serialize_property``'s earlier branches (``rpc.py``:438-605: a sequence, an unknown, a resource,
    an asset or archive, an awaitable, an output). Decided once per type."""

    def __missing__(self, kind: type) -> bool:
        from pulumi import Archive, Asset, Resource

        walked = _types.is_input_type(kind) and not issubclass(
            kind, (abc.Sequence, abc.Awaitable, Output, Unknown, Resource, Asset, Archive))
        self[kind] = walked
        return walked

    def __contains__(self, kind: object) -> bool:  # type: ignore[override]
        return self[kind]


_WALKED = _Walked({str: True, int: True, float: True, bool: True, type(None): True, list: True, tuple: True,
                   dict: True, Output: True})


def contains_unknowns(val: Any) -> bool:
    """``rpc.contains_unknowns`` (``rpc.py``:1460-1477): the same walk, with plain leaves answered first."""
    return _contains(val, set())


def _contains(val: Any, seen: set[int]) -> bool:
    kind = type(val)
    if kind is str or kind is int or kind is float or kind is bool or val is None:
        return False
    if isinstance(val, Unknown):
        return True
    val_id = id(val)
    if val_id in seen:
        return False
    seen.add(val_id)
    if isinstance(val, dict):
        return any(_contains(val[k], seen) for k in val)
    if isinstance(val, list):
        return any(_contains(x, seen) for x in val)
    return False


# --- deserialize: what deserialize_properties returns for the Struct of serialized values ---

def deserialized_properties(serialized: dict[str, Any]) -> dict[str, Any]:
    """``rpc.deserialize_properties(struct)`` of the ``Struct`` holding ``serialized`` (top level: ``None`` dropped, no
    secret pushed up), in a dry run. Raises :class:`NotMirrored`."""
    if _SIG in serialized:
        raise NotMirrored("a signature at the top level")
    out = {}
    for k, v in serialized.items():
        _check_text(k)
        d = deserialized(v)
        if d is not None:
            out[k] = d
    return out


def deserialized(v: Any) -> Any:
    """What ``rpc.deserialize_property`` makes of the protobuf value ``v`` becomes (``rpc.py``:1129-1170) in a dry run
    (the unknown sentinel becomes ``Unknown()``, inside a secret too). Raises :class:`NotMirrored`."""
    kind = type(v)
    if kind is str:
        _check_text(v)
        return Unknown() if v == _UNKNOWN else v
    if kind is bool or v is None:
        return v
    if kind is float:
        return v
    if kind is int:
        try:
            return float(v)
        except OverflowError:
            raise NotMirrored("an integer a double cannot hold") from None
    if kind is dict:
        if _SIG in v:
            if v[_SIG] != _SECRET or len(v) != 2 or "value" not in v:
                raise NotMirrored("an asset, archive, resource or output signature")
            props = rpc.wrap_rpc_secret(deserialized(v["value"]))  # rpc.py:871-872
        else:
            props = {}
            for k, item in v.items():
                _check_text(k)
                d = deserialized(item)
                if d is not None:
                    props[k] = d
        if isinstance(props, dict) and any(rpc.is_rpc_secret(x) for x in props.values()):
            return rpc.wrap_rpc_secret({k: rpc.unwrap_rpc_secret(x) for k, x in props.items()})
        return props
    if kind is list or kind is tuple:
        values = [deserialized(x) for x in v]
        if any(rpc.is_rpc_secret(x) for x in values):
            return rpc.wrap_rpc_secret([rpc.unwrap_rpc_secret(x) for x in values])
        return values
    raise NotMirrored(f"a {kind.__name__}")


def _check_text(text: Any) -> None:
    """A ``Struct`` key or string must be UTF-8 text (protobuf refuses lone surrogates)."""
    if type(text) is not str:
        raise NotMirrored("a key that is not text")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise NotMirrored("text that is not UTF-8") from None
