"""Command-line parsing shared by Kubernetes containers and compose services."""
from __future__ import annotations

import re
import shlex

SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}


def tokens(argv: list[str]) -> list[str]:
    """Flatten argv; elements that hold a whole shell line (`sh -c "..."`) are split too."""
    out: list[str] = []
    for item in argv:
        if any(ch.isspace() for ch in item):
            try:
                lexer = shlex.shlex(item, posix=True, punctuation_chars=";&|")
                lexer.whitespace_split = True
                out.extend(lexer)
            except ValueError:
                out.extend(item.split())
        else:
            out.append(item)
    return out


def segments(toks: list[str]) -> list[list[str]]:
    """Split a token list into simple commands at shell separators."""
    parts: list[list[str]] = [[]]
    for tok in toks:
        if tok in SHELL_SEPARATORS:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def flag_value(toks: list[str], *flags: str) -> str | None:
    """Value of `--flag value` or `--flag=value` (last occurrence wins), else None."""
    found = None
    for i, tok in enumerate(toks):
        for flag in flags:
            if tok == flag and i + 1 < len(toks):
                found = toks[i + 1]
            elif tok.startswith(flag + "="):
                found = tok[len(flag) + 1:]
    return found


def argv_from_compose(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [value]
    return []


FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
