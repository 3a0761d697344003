"""Read a stack file (or Pulumi.yaml) safely: every problem located, bounded time and memory.

What a stack file may be, and what is refused (each refusal is a located :class:`Problem`):

* UTF-8 text of at most :data:`MAX_BYTES` (a byte that is not UTF-8: file and line);
* YAML without anchors or aliases (``&a`` / ``*a``). Pulumi's own config parser gives them no
  useful meaning either, and refusing them *while composing* means an alias bomb ("billion
  laughs") is never expanded: it is refused in linear time and memory;
* mappings with unique keys (YAML requires it; the Pulumi CLI refuses duplicates too): the second
  occurrence is reported;
* plain scalar keys (no ``? [a, b]`` complex keys);
* well-formed YAML: a syntax error points at its line; an unclosed quote or bracket points at
  where it opens, not at the end of the file.

All problems of a file are collected and reported together. The result also maps every key path
(``config.slm-deploy:vllm[0].name``) to its line, for located validation errors later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
import yaml.reader

from stacks.errors import ConfigError, Problem

__all__ = ["MAX_BYTES", "MAX_DEPTH", "YamlDocument", "read_yaml"]

MAX_BYTES = 1024 * 1024
"""A stack file larger than this (1 MiB, thousands of times a real one) is refused unread."""

MAX_PROBLEMS = 20
"""At most this many YAML problems are listed (an alias bomb has one per line); the rest are counted."""

MAX_DEPTH = 64
"""Deeper nesting than this is refused (a real stack file nests about 6 levels)."""


@dataclass
class YamlDocument:
    """A parsed file: plain Python data, the line of every key path, and the problems found."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    root_line: int = 1
    problems: list[Problem] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    """Key paths whose value was an alias (replaced by null): validation errors there are noise."""


class _AliasNode(yaml.ScalarNode):
    """What an alias becomes: a null, remembered so that validation errors at its path are dropped."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses anchors and aliases instead of resolving them.

    An alias becomes a null scalar and an anchor is ignored, after recording a problem, so
    composition never copies or revisits a node and the rest of the file is still checked.
    """

    def __init__(self, stream: str, report) -> None:
        super().__init__(stream)
        self._report = report
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            self._report(event.start_mark, f"alias *{event.anchor} is not allowed: stack files may not use YAML "
                         "anchors or aliases; write the value out")
            return _AliasNode("tag:yaml.org,2002:null", "", event.start_mark, event.end_mark)
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._report(event.start_mark, f"anchor &{anchor} is not allowed: stack files may not use YAML "
                         "anchors or aliases; write the value out")
            event.anchor = None
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_yaml(path: Path, display: str) -> YamlDocument:
    """Parse ``path`` (shown as ``display`` in errors). Raises :class:`ConfigError` when it cannot be
    parsed at all; otherwise returns the document with any structural problems in ``.problems``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(display, "", "file not found", has_value=False)]) from None
    except OSError as exc:
        raise ConfigError([Problem(display, "", f"cannot read the file: {exc.strerror}", has_value=False)]) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError([Problem(display, "", f"file is {len(raw)} bytes; a stack file may be at most {MAX_BYTES}",
                                   has_value=False)])
    text = _decode(raw, display)
    return _read_fast(text, display) or _read(text, display)


_FAST_REFUSED = re.compile("[&*!\t\r\x85\u2028\u2029]")
"""Text the libyaml path leaves to the pure-Python one: a possible anchor or alias (``&``, ``*``; the pure-Python
composer refuses those with located problems), a tag (``!``), a tab (libyaml accepts one as a separator or
trailing whitespace where PyYAML's scanner refuses it), or a line break other than ``\\n`` (lines must count
alike)."""


def _read_fast(text: str, display: str) -> YamlDocument | None:
    """The document composed by libyaml (PyYAML's ``CSafeLoader``: the same resolver and constructor, the parser in
    C, ~10x faster on a 100-service stack file), when that is certain to be what :func:`_read` returns: a file
    without anchors or aliases that parses, constructs and checks cleanly within :data:`MAX_DEPTH`. Anything else
    (a YAML error, a problem, deep nesting, no libyaml, characters the pure-Python reader refuses) is None, and the
    pure-Python path reads it (with its located problems)."""
    if (not getattr(yaml, "__with_libyaml__", False) or _FAST_REFUSED.search(text)
            or yaml.reader.Reader.NON_PRINTABLE.search(text)):
        return None
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or _deeper_than(node, MAX_DEPTH):
            return None
        doc = YamlDocument(None, root_line=node.start_mark.line + 1)
        _check_keys(node, "", doc, display)
        if doc.problems:
            return None
        doc.data = loader.construct_document(node)
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return doc


def _deeper_than(node: yaml.Node, limit: int) -> bool:
    """Whether ``node`` nests more than ``limit`` levels (itself the first), counted as the pure-Python composer
    counts them (iteratively: no recursion)."""
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in current.value for child in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)
    return False


def _read(text: str, display: str) -> YamlDocument:
    """The pure-Python path: every problem located (see the module doc)."""
    problems: list[Problem] = []

    def report(mark, message: str) -> None:
        problems.append(Problem(display, "", message, line=mark.line + 1, has_value=False))

    loader = _NoAliasLoader(text, report)
    try:
        node = loader.get_single_node()
        doc = YamlDocument(None, root_line=(node.start_mark.line + 1) if node is not None else 1, problems=problems)
        if node is not None:
            _check_keys(node, "", doc, display)
            doc.data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(_capped(problems, display) + [_syntax_problem(exc, display, loader)]) from None
    except RecursionError:
        raise ConfigError(_capped(problems, display) + [Problem(display, "", "nesting is too deep", line=loader.line + 1,
                                              has_value=False)]) from None
    finally:
        loader.dispose()
    doc.problems = _capped(sorted(doc.problems, key=lambda p: p.line or 0), display)
    return doc


def _capped(problems: list[Problem], display: str, limit: int = MAX_PROBLEMS) -> list[Problem]:
    if len(problems) <= limit:
        return problems
    rest = len(problems) - limit
    return problems[:limit] + [Problem(display, "", f"... and {rest} more YAML problems of the same kinds",
                                       has_value=False)]


def _decode(raw: bytes, display: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([Problem(
            display, "", f"byte 0x{raw[exc.start]:02x} at column {column} is not UTF-8: save the file as UTF-8",
            line=line, has_value=False)]) from None
    return text.removeprefix("\ufeff")


def _syntax_problem(exc: yaml.YAMLError, display: str, loader: yaml.SafeLoader) -> Problem:
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    opened = (context or "").removeprefix("while scanning ").removeprefix("while parsing ")
    if context_mark is not None and ("end of stream" in problem or "<stream end>" in problem
                                     or (context or "").startswith("while scanning a quoted scalar")):
        # The scanner noticed at the end of the file; the mistake is where the quote/bracket opens.
        return Problem(display, "", f"invalid YAML: {opened} that starts on this line is never closed",
                       line=context_mark.line + 1, has_value=False)
    if context_mark is not None and mark is not None and (context or "").startswith("while parsing a flow"):
        return Problem(display, "", f"invalid YAML: {opened} that starts on this line is never closed, or misses "
                       f"a ',' (on line {mark.line + 1}: {problem})", line=context_mark.line + 1, has_value=False)
    if mark is None and context_mark is None:
        mark = getattr(loader, "get_mark", lambda: None)()
    where = mark or context_mark
    reason = f"{problem} ({context})" if context else problem
    return Problem(display, "", f"invalid YAML: {reason}", line=where.line + 1 if where else None, has_value=False)


def _check_keys(node: yaml.Node, path: str, doc: YamlDocument, display: str) -> None:
    """Index every key path's line; refuse duplicate and non-scalar keys (iteratively: no recursion)."""
    stack = [(node, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            kept = []
            for key_node, value_node in current.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    doc.problems.append(Problem(display, where.removeprefix("config."), "keys must be plain strings, "
                                                "not a list or mapping", line=line, has_value=False))
                    continue
                kept.append((key_node, value_node))
                key = str(key_node.value)
                child = f"{where}.{key}" if where else key
                if key in seen:
                    doc.problems.append(Problem(display, child.removeprefix("config."),
                                                f"duplicate key (first on line {seen[key]}); YAML keys must be unique "
                                                "within a mapping: keep one", has_value=False, line=line))
                    continue
                seen[key] = line
                doc.lines[child] = line
                if isinstance(value_node, _AliasNode):
                    doc.dropped.add(child)
                stack.append((value_node, child))
            current.value = kept  # complex keys dropped: they are refused above
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                child = f"{where}[{i}]"
                doc.lines[child] = item.start_mark.line + 1
                if isinstance(item, _AliasNode):
                    doc.dropped.add(child)
                stack.append((item, child))
