"""The renderer's YAML: sorted keys, block literals for multi-line strings, on libyaml where it is byte-identical.

PyYAML's pure-Python emitter took ~7 s to write a 100-service stack; libyaml's emitter (``CSafeDumper``,
the same Python representers) does it ~5x faster. Their output is byte-identical except in two places:
when a double-quoted scalar is folded at the line width, PyYAML escapes the line break (``\\``) and
libyaml folds on a plain break; and a key of 123-128 characters, simple in libyaml, ``? key`` in PyYAML. So a
document holding any string PyYAML would double-quote (one with control or non-ASCII characters, a multi-line
string that cannot be a block literal, a multi-line key), an empty key or such a long key, is written by the
pure-Python emitter, every other by libyaml's rules. tests/slm_deploy/test_yaml_dump.py checks byte identity on the
reference stacks and on generated data.

Most documents (a mapping of plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` data) are written
directly by :class:`_Writer`, as libyaml writes them, with each scalar's style decided by PyYAML's own analysis and
cached per distinct text; it steps aside where libyaml could fold a line or write an alias. The others go through
:class:`_Represent` (SafeRepresenter's nodes for plain data, with the strings that need the pure-Python emitter found
in the same pass) and libyaml's serializer, whose scalar tag look-ups are memoized; any other type (a tuple, a
subclass, a non-string key) takes PyYAML's own representer, as before.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

import yaml
from yaml.emitter import Emitter
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

__all__ = ["dump_yaml", "dump_yaml_reference"]

_OPTIONS = {"sort_keys": True, "default_flow_style": False, "width": 120}


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


class _PyDumper(yaml.SafeDumper):
    pass


class _CDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def resolve(self, kind, value, implicit):
        """BaseResolver.resolve, memoized for scalars: without path resolvers it is a function of the value and
        ``implicit`` alone (the class's implicit resolvers); libyaml's serializer calls it twice per scalar."""
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            if len(_RESOLVED) > 200_000:
                _RESOLVED.clear()
            tag = _RESOLVED[key] = super().resolve(kind, value, implicit)
        return tag


_RESOLVED: dict[tuple[str, object], str] = {}


for _dumper in (_PyDumper, _CDumper):
    _dumper.add_representer(str, _str_presenter)

_BREAKS = "\n\x85\u2028\u2029"
_ANALYZER = Emitter(io.StringIO())  # only its analyze_scalar() is used: PyYAML's own style decision


@lru_cache(maxsize=4096)
def _emitters_may_differ(text: str, is_key: bool) -> bool:
    """Whether PyYAML and libyaml might write ``text`` differently: PyYAML would double-quote it, or an empty key."""
    if not text:
        return is_key  # an empty key: the two emitters differ ('' vs nothing)
    if is_key and len(text) >= 123:
        # PyYAML counts the key's tag (``!!str``) against its 128-character limit for a simple key, libyaml does
        # not: a key of 123 to 128 characters is ``? key`` in one and ``key:`` in the other.
        return True
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
    if type(data) is dict and data:
        text = _Writer().document(data)
        if text is not None:
            return text
    try:
        node, needs_python = _Represent().node(data)
    except _Unsupported:
        dumper = _PyDumper if _needs_python_emitter(data) else _CDumper
        return yaml.dump(data, Dumper=dumper, **_OPTIONS)
    if needs_python:
        return yaml.dump(data, Dumper=_PyDumper, **_OPTIONS)
    stream = io.StringIO()
    dumper = _CDumper(stream, **_OPTIONS)
    try:  # what yaml.dump does, with the node instead of represent(data)
        dumper.open()
        dumper.serialize(node)
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


class _Unsupported(Exception):
    """Data :class:`_Represent` does not build (PyYAML's representer decides: represents it, or refuses)."""


_STR, _INT, _FLOAT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_INF = float("inf")


class _Represent:
    """SafeRepresenter.represent_data (with ``sort_keys``, ``default_flow_style=False`` and :func:`_str_presenter`)
    for plain data, node for node: a dict or list met twice in one document is the same node (an alias),
    scalars never are; plus whether any string needs the pure-Python emitter (:func:`_emitters_may_differ`)."""

    __slots__ = ("nodes", "keep", "needs_python")

    def __init__(self) -> None:
        self.nodes: dict[int, MappingNode | SequenceNode] = {}
        self.keep: list[object] = []  # the objects whose ids key ``nodes`` stay alive (SafeRepresenter.object_keeper)
        self.needs_python = False

    def node(self, data: Any) -> tuple[Any, bool]:
        return self._node(data), self.needs_python

    def _text(self, text: str, is_key: bool) -> ScalarNode:
        """A string's node (a block literal when multi-line); notes whether it needs the pure-Python emitter
        (printable one-line ASCII never does, except a key long enough to be ``? key`` in PyYAML)."""
        if not self.needs_python and not (text and text.isascii() and text.isprintable() and (not is_key or len(text) < 123)):
            self.needs_python = _emitters_may_differ(text, is_key)
        return ScalarNode(_STR, text, style="|" if "\n" in text else None)

    def _node(self, data: Any):
        kind = type(data)
        if kind is str:
            return self._text(data, False)
        if kind is dict:
            node = self.nodes.get(id(data))
            if node is None:
                value: list = []
                node = self.nodes[id(data)] = MappingNode(_MAP, value, flow_style=False)
                self.keep.append(data)
                if not all(type(key) is str for key in data):
                    raise _Unsupported(data)
                for key in sorted(data):
                    value.append((self._text(key, True), self._node(data[key])))
            return node
        if kind is list:
            node = self.nodes.get(id(data))
            if node is None:
                items: list = []
                node = self.nodes[id(data)] = SequenceNode(_SEQ, items, flow_style=False)
                self.keep.append(data)
                items.extend(self._node(item) for item in data)
            return node
        if kind is int:
            return ScalarNode(_INT, str(data))
        if kind is bool:
            return ScalarNode(_BOOL, "true" if data else "false")
        if data is None:
            return ScalarNode(_NULL, "null")
        if kind is float:
            return ScalarNode(_FLOAT, _float_text(data))
        raise _Unsupported(data)


def dump_yaml_reference(data: Any) -> str:
    """The same YAML, always from PyYAML's pure-Python emitter (what :func:`dump_yaml` must equal)."""
    return yaml.dump(data, Dumper=_PyDumper, **_OPTIONS)


# --------------------------------------------------------------------------- the common case, written directly

_WIDTH = _OPTIONS["width"]
_RESOLVER = yaml.resolver.Resolver()


@lru_cache(maxsize=8192)
def _scalar(text: str, tag: str, is_key: bool) -> tuple[str, str, bool] | None:
    """How libyaml writes this scalar in block context, as PyYAML's emitter decides it (``choose_scalar_style``,
    ``analyze_scalar``, ``check_simple_key``): ``("plain"|"single", text written, whether it could fold at the
    line width)`` or ``("literal", header, False)``; None for anything else (double quotes, a literal with block
    hints other than ``-``, a key that is not simple, text PyYAML's emitter would write differently)."""
    multiline = "\n" in text
    if is_key and (not text or multiline or len(text) >= 120 or _emitters_may_differ(text, True)):
        return None
    if multiline:
        if tag != _STR or _emitters_may_differ(text, False) or not text.isascii() or text[0] in " \n":
            return None  # printable ASCII lines that are not a keep-chomped literal: allow_block (see above)
        return "literal", "|" if text.endswith("\n") else "|-", False
    analysis = _ANALYZER.analyze_scalar(text)
    if analysis.multiline:  # a line break other than \n
        return None
    implicit = _RESOLVER.resolve(ScalarNode, text, (True, False)) == tag
    if implicit and analysis.allow_block_plain and not (is_key and analysis.empty):
        return "plain", text, not is_key and " " in text
    if tag != _STR:
        return None  # a tagged scalar libyaml would quote (never for our int/float/bool/null texts)
    if analysis.allow_single_quoted:
        return "single", "'" + text.replace("'", "''") + "'", not is_key and " " in text
    return None


class _Writer:
    """The text libyaml writes for a mapping of plain data with our options (block style, indent 2, width 120,
    sequences in a mapping not indented, ``{}``/``[]`` for empty collections), or None when it cannot be sure:
    a dict or list met twice (an alias), a type or scalar :func:`_scalar` does not handle, a plain or quoted scalar
    with a space that reaches past the line width (libyaml would fold it). Checked against PyYAML's emitter on the
    reference stacks and generated data (tests/slm_deploy/test_yaml_dump.py)."""

    __slots__ = ("out", "seen")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.seen: set[int] = set()

    def document(self, data: dict) -> str | None:
        try:
            self._mapping(data, 0, inline=True)
        except _Unsupported:
            return None
        self.out.append("\n")
        return "".join(self.out)

    def _collection(self, data: Any) -> None:
        if id(data) in self.seen:
            raise _Unsupported(data)  # an alias
        self.seen.add(id(data))

    def _key(self, key: str) -> str:
        style = _scalar(key, _STR, True)
        if style is None:
            raise _Unsupported(key)
        return style[1]

    def _mapping(self, data: dict, indent: int, inline: bool) -> None:
        """Each entry on its own line at ``indent`` (the first one where the cursor stands when ``inline``)."""
        self._collection(data)
        out = self.out
        pad = "\n" + " " * indent
        if not all(type(key) is str for key in data):
            raise _Unsupported(data)
        for key in sorted(data):
            value = data[key]
            key_text = self._key(key)
            line = ("" if inline else pad) + key_text + ":"
            inline = False
            kind = type(value)
            if kind is dict or kind is list:
                if not value:
                    self._collection(value)  # an empty one may be shared too (the reference writes an alias)
                    out.append(line + (" {}" if kind is dict else " []"))
                elif kind is dict:
                    out.append(line)
                    self._mapping(value, indent + 2, inline=False)
                else:
                    out.append(line)
                    self._sequence(value, indent, inline=False)
            else:
                self._scalar_after(line, value, indent + 2, indent + len(key_text) + 2)

    def _sequence(self, data: list, indent: int, inline: bool) -> None:
        """Each item ``- ...`` at ``indent`` (the first one where the cursor stands when ``inline``)."""
        self._collection(data)
        out = self.out
        pad = "\n" + " " * indent
        for item in data:
            line = "-" if inline else pad + "-"
            inline = False
            kind = type(item)
            if kind is dict or kind is list:
                if not item:
                    self._collection(item)
                    out.append(line + (" {}" if kind is dict else " []"))
                elif kind is dict:
                    out.append(line + " ")
                    self._mapping(item, indent + 2, inline=True)
                else:
                    out.append(line + " ")
                    self._sequence(item, indent + 2, inline=True)
            else:
                self._scalar_after(line, item, indent + 2, indent + 2)

    def _scalar_after(self, line: str, value: Any, indent: int, column: int) -> None:
        """``line`` (ending in ``:`` or ``-``), a space and the scalar ``value`` starting at ``column``; a literal's
        lines at ``indent``."""
        kind = type(value)
        if kind is str:
            style = _scalar(value, _STR, False)
        elif kind is int:
            style = _scalar(str(value), _INT, False)
        elif kind is bool:
            style = "plain", "true" if value else "false", False
        elif value is None:
            style = "plain", "null", False
        elif kind is float:
            style = _scalar(_float_text(value), _FLOAT, False)
        else:
            raise _Unsupported(value)
        if style is None:
            raise _Unsupported(value)
        how, text, folds = style
        if how != "literal":
            if folds and column + len(text) > _WIDTH:
                raise _Unsupported(value)  # libyaml may break the line at a space past the width
            self.out.append(line + " " + text)
            return
        pad = "\n" + " " * indent
        body = value[:-1] if text == "|" else value
        self.out.append(line + " " + text + "".join(pad + part if part else "\n" for part in body.split("\n")))


def _float_text(data: float) -> str:
    """SafeRepresenter.represent_float's text."""
    if data != data or (data == 0.0 and data == 1.0):
        return ".nan"
    if data == _INF:
        return ".inf"
    if data == -_INF:
        return "-.inf"
    text = repr(data).lower()
    return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text
