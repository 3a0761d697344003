"""JSON for the gate's own caches (the verdict cache and the per-object store), through orjson.

A 100-service stack's verdict is ~10 MB of JSON and its per-object store ~15 MB; the standard library's encoder
took ~0.3 s and ~0.2 s of a one-service re-gate to write them, orjson a tenth of that. Only the caches use it: the
reports a user reads keep the standard library's formatting byte for byte.

The options keep what a cache entry decodes to equal to what the standard library's round trip gives, or refuse:

* dict keys that are not strings are written as strings, as ``json.dumps`` does (``OPT_NON_STR_KEYS``);
* dates, datetimes and dataclasses are refused (``TypeError``), as ``json.dumps`` refuses them, instead of
  orjson's ISO strings and dicts that would come back as another type (``OPT_PASSTHROUGH_*``);
* integers beyond 64 bits and NaN/infinity are where they differ: orjson refuses the first (``TypeError``) and
  writes ``null`` for the second. The per-object store caches a parsed manifest only when its round trip here
  equals it (:meth:`slm_deploy.gate.incremental.Plan.parse_manifests`), so neither is ever served changed; the
  verdict holds only strings, integers and booleans.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> bytes:
    """Compact JSON (UTF-8 bytes). Raises TypeError on what JSON cannot carry (see the module doc)."""
    return orjson.dumps(value, option=_OPTIONS)


def loads(data: bytes | str) -> Any:
    """Raises ValueError on invalid JSON (``orjson.JSONDecodeError`` is a ``json.JSONDecodeError``)."""
    return orjson.loads(data)
