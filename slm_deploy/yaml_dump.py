"""The renderer's YAML: sorted keys, block literals for multi-line strings, on libyaml where it is byte-identical.

PyYAML's pure-Python emitter took ~7 s to write a 100-service stack; libyaml's emitter (``CSafeDumper``,
the same Python representers) does it ~5x faster. Their output is byte-identical except in one place:
when a double-quoted scalar is folded at the line width, PyYAML escapes the line break (``\\``) and
libyaml folds on a plain break. So a document holding any string PyYAML would double-quote (one with
control or non-ASCII characters, a multi-line string that cannot be a block literal, a multi-line key)
or an empty key, is written by the pure-Python emitter, every other by libyaml. tests/slm_deploy/test_yaml_dump.py checks byte
identity on the reference stacks and on generated data.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

import yaml
from yaml.emitter import Emitter

__all__ = ["dump_yaml", "dump_yaml_reference"]

_OPTIONS = {"sort_keys": True, "default_flow_style": False, "width": 120}


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


class _PyDumper(yaml.SafeDumper):
    pass


class _CDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


for _dumper in (_PyDumper, _CDumper):
    _dumper.add_representer(str, _str_presenter)

_BREAKS = "\n\x85\u2028\u2029"
_ANALYZER = Emitter(io.StringIO())  # only its analyze_scalar() is used: PyYAML's own style decision


@lru_cache(maxsize=4096)
def _emitters_may_differ(text: str, is_key: bool) -> bool:
    """Whether PyYAML and libyaml might write ``text`` differently: PyYAML would double-quote it, or an empty key."""
    if not text:
        return is_key  # an empty key: the two emitters differ ('' vs nothing)
    if text.isascii() and text.isprintable():  # plain or single-quoted: never double
        return False
    if text.isascii() and text.replace("\n", "").isprintable():
        # Printable ASCII lines (a config file, a dashboard's JSON): what analyze_scalar decides for such text,
        # without its per-character Python loop (1.1 s of a 100-service render went to 14 such strings). It is
        # multi-line, and a block literal unless a line ends in a space (its space_break) or the text does.
        return is_key or " \n" in text or text.endswith(" ") or _keeps_trailing_breaks(text)
    analysis = _ANALYZER.analyze_scalar(text)
    if analysis.multiline:
        return is_key or not analysis.allow_block or _keeps_trailing_breaks(text)
    return not analysis.allow_single_quoted


def _keeps_trailing_breaks(text: str) -> bool:
    """A block literal with "keep" chomping (``|+``: the text is one line break, or ends in two). libyaml then
    ends the whole document with ``...``, wherever the literal stands; PyYAML only when it is the last scalar."""
    return text[-1:] in _BREAKS and (len(text) == 1 or text[-2] in _BREAKS)


def _needs_python_emitter(data: Any, is_key: bool = False) -> bool:
    if isinstance(data, str):
        return _emitters_may_differ(data, is_key)
    if isinstance(data, dict):
        return any(_needs_python_emitter(k, True) or _needs_python_emitter(v) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return any(_needs_python_emitter(v) for v in data)
    return False


def dump_yaml(data: Any) -> str:
    """Deterministic YAML: sorted keys, block literals for multi-line strings."""
    dumper = _PyDumper if _needs_python_emitter(data) else _CDumper
    return yaml.dump(data, Dumper=dumper, **_OPTIONS)


def dump_yaml_reference(data: Any) -> str:
    """The same YAML, always from PyYAML's pure-Python emitter (what :func:`dump_yaml` must equal)."""
    return yaml.dump(data, Dumper=_PyDumper, **_OPTIONS)
