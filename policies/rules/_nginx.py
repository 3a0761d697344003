"""A small nginx configuration reader: directives and blocks, as nginx tokenizes them.

Enough for the SLM rules to judge the generated proxy configs by what nginx will read (quoted
strings with braces inside, comments, nested blocks), not by grepping text. Not a validator:
``nginx -t`` in the tests is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

__all__ = ["Directive", "parse", "walk", "looks_like_nginx"]


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list["Directive"] | None = None
    parents: tuple[str, ...] = field(default=())  # enclosing block names, outermost first


def _tokens(text: str) -> Iterator[str]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in "{};":
            yield ch
            i += 1
        elif ch in "\"'":
            j, out = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    out.append(text[j:j + 2] if text[j + 1] not in "\"'" else text[j + 1])
                    j += 2
                    continue
                out.append(text[j])
                j += 1
            yield "\0" + "".join(out)  # marks a quoted token (never a brace or ';')
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};":
                j += 1
            yield text[i:j]
            i = j


def parse(text: str) -> list[Directive]:
    """Top-level directives of ``text``; an unbalanced file yields what could be read."""
    root: list[Directive] = []
    stack: list[tuple[list[Directive], tuple[str, ...]]] = [(root, ())]
    words: list[str] = []
    for tok in _tokens(text):
        body, parents = stack[-1]
        if tok == ";":
            if words:
                body.append(Directive(words[0], words[1:], None, parents))
            words = []
        elif tok == "{":
            d = Directive(words[0] if words else "", words[1:], [], parents)
            body.append(d)
            stack.append((d.block, parents + (d.name,)))
            words = []
        elif tok == "}":
            words = []
            if len(stack) > 1:
                stack.pop()
        else:
            words.append(tok.lstrip("\0"))
    return root


def walk(directives: list[Directive]) -> Iterator[Directive]:
    for d in directives:
        yield d
        if d.block:
            yield from walk(d.block)


def looks_like_nginx(text: str) -> bool:
    """A whole nginx main config (has an ``http`` or ``events`` block)."""
    return any(d.name in ("http", "events") and d.block is not None for d in parse(text))
