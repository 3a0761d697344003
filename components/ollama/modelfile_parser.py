"""A Python port of Ollama's Modelfile parser (``parser/parser.go``: ``ParseFile``, ``parseRuneForState``,
``unquote``, ``isValidCommand``), so a rendered Modelfile can be read back exactly as ``ollama create`` reads it.

The grammar: a command name (letters), one space, then a value up to the end of the line, unless the
value opens a quote (``"`` or ``\"\"\"``) that the line does not close: then the value runs on, newlines
included, until the closing quote ends a line. Quotes are stripped, nothing is unescaped; characters
that are not printable (``strconv.IsPrint``) are dropped from names and from unquoted runs. ``#`` starts
a comment line. ``PARAMETER <name> <value>`` and ``MESSAGE <role> <value>`` carry a second word.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Command", "ModelfileSyntaxError", "parse_modelfile", "COMMANDS"]

COMMANDS = ("from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter",
            "message", "requires")
_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)


@dataclass(frozen=True)
class Command:
    name: str  # "model" for FROM, the parameter name for PARAMETER, else the lower-case command
    args: str


class ModelfileSyntaxError(ValueError):
    pass


def _is_space(r: str) -> bool:
    return r in (" ", "\t")


def _is_newline(r: str) -> bool:
    return r in ("\r", "\n")


def _is_alpha(r: str) -> bool:
    return "a" <= r <= "z" or "A" <= r <= "Z"


def _is_print(r: str) -> bool:
    """Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    return r == " " or (r.isprintable() and not r.isspace())


def _unquote(s: str) -> tuple[str, bool]:
    if s[:3] == '"""':
        return (s[3:-3], True) if len(s) >= 6 and s[-3:] == '"""' else ("", False)
    if s[:1] == '"':
        return (s[1:-1], True) if len(s) >= 2 and s[-1] == '"' else ("", False)
    return s, True


def _next_state(r: str, cs: int) -> tuple[int, str]:
    if cs == _NIL:
        if r == "#":
            return _COMMENT, ""
        if _is_space(r) or _is_newline(r):
            return _NIL, ""
        return _NAME, r
    if cs == _NAME:
        if _is_alpha(r):
            return _NAME, r
        if _is_space(r):
            return _VALUE, ""
        raise ModelfileSyntaxError("invalid command")
    if cs == _VALUE:
        return (_NIL, r) if (_is_newline(r) or _is_space(r)) else (_VALUE, r)
    if cs == _PARAMETER:
        if _is_alpha(r) or r.isdigit() and r.isascii() or r == "_":
            return _PARAMETER, r
        if _is_space(r):
            return _VALUE, ""
        raise ModelfileSyntaxError("unexpected EOF in PARAMETER name")
    if cs == _MESSAGE:
        if _is_alpha(r):
            return _MESSAGE, r
        if _is_space(r):
            return _VALUE, ""
        raise ModelfileSyntaxError("unexpected EOF in MESSAGE role")
    return (_NIL, "") if _is_newline(r) else (_COMMENT, "")


def parse_modelfile(text: str) -> list[Command]:
    """Every command of ``text`` as Ollama reads it; raises :class:`ModelfileSyntaxError` where it would fail."""
    commands: list[Command] = []
    buf: list[str] = []
    curr, name, role = _NIL, "", ""
    for r in text.lstrip("\ufeff"):
        nxt, r = _next_state(r, curr)
        if nxt != curr:
            if curr == _NAME:
                word = "".join(buf)
                if word.lower() not in COMMANDS:
                    raise ModelfileSyntaxError(f"{word!r} is not a Modelfile command")
                lowered = word.lower()
                if lowered == "from":
                    name = "model"
                elif lowered == "parameter":
                    nxt = _PARAMETER
                elif lowered == "message":
                    nxt, name = _MESSAGE, lowered
                else:
                    name = lowered
            elif curr == _PARAMETER:
                name = "".join(buf)
            elif curr == _MESSAGE:
                role = "".join(buf)
                if role not in ("system", "user", "assistant"):
                    raise ModelfileSyntaxError("message role must be one of system, user or assistant")
            elif curr == _VALUE:
                value, ok = _unquote("".join(buf).strip())
                if not ok or _is_space(r):
                    buf.append(r)
                    continue
                if role:
                    value, role = f"{role}: {value}", ""
                commands.append(Command(name, value))
            buf = []
            curr = nxt
        if r and _is_print(r):
            buf.append(r)
    if curr == _VALUE:
        value, ok = _unquote("".join(buf).strip())
        if not ok:
            raise ModelfileSyntaxError("unexpected EOF: an unterminated quote")
        commands.append(Command(name, f"{role}: {value}" if role else value))
    elif curr not in (_NIL, _COMMENT):
        raise ModelfileSyntaxError("unexpected EOF")
    if not any(c.name == "model" for c in commands):
        raise ModelfileSyntaxError("no FROM line")
    return commands
