"""``rpc.translate_output_properties`` (pulumi 3.272.0, ``pulumi/runtime/rpc.py``:1250-1377) with its type work done
once per type.

``resolve_outputs`` turns every output property of every registration into what the program reads back: keys
translated, dicts of an output type instantiated as that type, enums built, floats cast to ``int`` where the type
says ``int``. The SDK re-derives the same facts about each annotation for every value it meets (``unwrap_optional_type``,
``typing.get_origin``/``get_args``, union and output-type checks, an error-path object per value); on a 100-service
stack that was a tenth of the synth. :func:`translate_output_properties` walks the value the same way, in the same
order (so output types are instantiated once each, as the SDK instantiates them), with each annotation's facts
looked up from a per-type plan. Wherever the SDK would do something else -- a discriminated union to reduce, a
mapping under a type that is not a mapping (``None`` or an error with its path), a list under a type that is not a
list, a ``dict`` or ``list`` subclass -- that value is handed to the SDK's own function with the path it would have
had, so results and error messages stay the SDK's.
"""

from __future__ import annotations

import inspect
import typing
from collections import abc
from enum import Enum
from typing import Any

from pulumi import _types
from pulumi.runtime import rpc

__all__ = ["translate_output_properties", "STOCK"]

STOCK = rpc.translate_output_properties
"""The SDK's function (what every value this module does not walk itself goes to)."""

_SIG = rpc._special_sig_key
_SECRET = rpc._special_secret_sig
_DICT_ORIGINS = (dict, typing.Dict, abc.Mapping, typing.Mapping)  # noqa: UP006 - the SDK's list (rpc.py:1348-1353)
_MISSING = object()


class _Delegate(Exception):
    """This value goes to the SDK's function."""


class _Plan:
    """What ``translate_output_properties`` derives from one annotation (``rpc.py``:1308-1374)."""

    __slots__ = ("typ", "union", "output_type", "types", "value_type", "dict_like", "enum", "element_type")

    def __init__(self, typ: Any) -> None:
        typ = _types.unwrap_optional_type(typ) if typ else typ  # may raise: then no plan, the SDK raises
        self.typ = None if typ is Any else typ
        t = self.typ
        self.union = t is not None and _types.is_discriminated_union(t)
        self.output_type = t is not None and _types.is_output_type(t)
        self.types = _types.output_type_types(t) if self.output_type else None
        self.dict_like = t is not None and (t is dict or typing.get_origin(t) in _DICT_ORIGINS)
        args = typing.get_args(t) if self.dict_like else ()
        self.value_type = args[1] if len(args) == 2 and args[0] is str else _MISSING
        self.enum = bool(t) and inspect.isclass(t) and issubclass(t, Enum)
        try:
            self.element_type = rpc._get_list_element_type(t)
        except AssertionError:
            self.element_type = _MISSING


_plans: dict[Any, _Plan] = {}


def _plan(typ: Any) -> _Plan:
    try:
        plan = _plans.get(typ)
    except TypeError:  # an unhashable annotation
        raise _Delegate from None
    if plan is None:
        try:
            plan = _Plan(typ)
        except Exception:
            raise _Delegate from None
        _plans[typ] = plan
    return plan


def translate_output_properties(output: Any, output_transformer: Any, typ: Any = None,
                                transform_using_type_metadata: bool = False, path: Any = None,
                                return_none_on_dict_type_mismatch: bool = False) -> Any:
    """``rpc.translate_output_properties`` with the same arguments and result."""
    return _translate(output, output_transformer, typ, transform_using_type_metadata, path, (),
                      return_none_on_dict_type_mismatch)


def _stock(output: Any, transformer: Any, typ: Any, use_meta: bool, root: Any, keys: tuple,
           none_on_mismatch: bool) -> Any:
    path = root
    for key in keys:
        path = rpc._Path(key, parent=path)
    return STOCK(output, transformer, typ, use_meta, path, none_on_mismatch)


def _translate(output: Any, transformer: Any, typ: Any, use_meta: bool, root: Any, keys: tuple,
               none_on_mismatch: bool) -> Any:
    kind = type(output)
    try:
        if kind is dict and _SIG in output and output[_SIG] == _SECRET:  # rpc.py:1296-1306
            return rpc.wrap_rpc_secret(_translate(output["value"], transformer, typ, use_meta, root, keys,
                                                  none_on_mismatch))
        plan = _plan(typ)
        t = plan.typ
        if kind is dict:  # rpc.py:1314-1371
            get_type = None
            translate = transformer
            if t is not None:
                if plan.union:
                    raise _Delegate
                if plan.output_type:
                    types = plan.types
                    translated_values = {k: _translate(v, transformer, types.get(k), use_meta, root, (*keys, k),
                                                       none_on_mismatch) for k, v in output.items()}
                    return _types.output_type_from_dict(t, translated_values)
                if not plan.dict_like:
                    raise _Delegate  # None, or the SDK's error with its path
                if plan.value_type is not _MISSING:
                    get_type = plan.value_type
                    if use_meta:
                        translate = _same
            return {translate(k): _translate(v, transformer, get_type, use_meta, root, (*keys, k), none_on_mismatch)
                    for k, v in output.items()}
        if kind is list:  # rpc.py:1373-1384
            element_type = plan.element_type
            if element_type is _MISSING:
                raise _Delegate
            return [_translate(v, transformer, element_type, use_meta, root, (*keys, str(i)), none_on_mismatch)
                    for i, v in enumerate(output)]
        if isinstance(output, (dict, list)):  # a subclass
            raise _Delegate
    except _Delegate:
        return _stock(output, transformer, typ, use_meta, root, keys, none_on_mismatch)
    if plan.enum and isinstance(output, (int, float, str)):  # rpc.py:1386-1392
        return t(output)
    if t is int and isinstance(output, float):
        return int(output)
    return output


def _same(key: str) -> str:
    return key
