"""Client keys set in config: ``pulumi config set --secret --path 'clientKeys.<client>' KEY``.

The decrypted value of the secret config key ``clientKeys`` is an object: client name -> a key, or a list
of keys (the first is the current one; the others stay accepted while clients roll over). Clients without
an entry keep their generated key. Validation names the path and never the value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["CONFIG_KEY", "MIN_KEY_LENGTH", "parse_client_keys", "configured_keys_or_none"]

CONFIG_KEY = "clientKeys"
MIN_KEY_LENGTH = 32
"""Shortest accepted key: 32 characters (``openssl rand -hex 24`` gives 48); the keys file stores SHA-256
hashes, which only protect keys too long to guess."""


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str):
        return f"must be a string, not {type(key).__name__}"
    if len(key) < MIN_KEY_LENGTH:
        return f"must be at least {MIN_KEY_LENGTH} characters (e.g. openssl rand -hex 24)"
    if any(not ("!" <= c <= "~") or c in "\"'\\;" for c in key):
        return "must be printable ASCII without whitespace, quotes, backslashes or ';'"
    return None


def parse_client_keys(value: Any, clients: Sequence[str]) -> dict[str, list[str]]:
    """The decrypted ``clientKeys`` object -> ``{client: [keys]}``.

    Raises ``ValueError`` with one ``(path, what is allowed)`` pair per problem, values never included.
    """
    if not isinstance(value, dict):
        raise ValueError([(CONFIG_KEY, "must be an object of client name -> key (or list of keys): "
                                       f"pulumi config set --secret --path '{CONFIG_KEY}.<client>' KEY")])
    problems: list[tuple[str, str]] = []
    out: dict[str, list[str]] = {}
    for client, given in value.items():
        path = f"{CONFIG_KEY}.{client}"
        if client not in clients:
            problems.append((path, f"not a named client; clients: {', '.join(clients) or 'none'}"))
            continue
        keys = given if isinstance(given, list) else [given]
        if not keys:
            problems.append((path, "must hold at least one key"))
            continue
        for i, key in enumerate(keys):
            problem = _key_problem(key)
            if problem:
                problems.append((f"{path}[{i}]" if isinstance(given, list) else path, problem))
        if len(set(map(str, keys))) != len(keys):
            problems.append((path, "must not repeat a key"))
        out[client] = [str(k) for k in keys]
    if problems:
        raise ValueError(problems)
    return out


def configured_keys_or_none(text: str | None, clients: Sequence[str]) -> dict[str, list[str]]:
    """The plaintext config value (JSON text) -> ``{client: [keys]}``; unset or an offline placeholder -> ``{}``."""
    if not text or text.startswith("[secret"):
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None  # a plain string: refused below, without echoing it
    return parse_client_keys(value, clients)
