"""Per-object YAML cache of the renderer: a one-service change re-writes only the objects that changed.

:func:`slm_deploy.yaml_dump.dump_yaml` is a pure function of the object, PyYAML (and libyaml) and its own
code. So its text is cached per stack (``<cache dir>/render/<stack>.json``) under

* a **fingerprint**: the PyYAML version, whether libyaml is in use, and the source of ``yaml_dump.py``
  (any change drops the whole cache);
* a **key per object**: sha256 of the object's canonical JSON (sorted keys). An object JSON cannot carry
  exactly (a tuple, a non-string key, a date ...) is never cached: it is dumped every time.

A changed object has a different key, so it is always dumped afresh; the store is rewritten on each render
with only the entries that render used, so it never grows past one stack's worth. ``SLM_DEPLOY_NO_CACHE=1``
turns it off (a cold preview dumps everything).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from slm_deploy.yaml_dump import dump_yaml

__all__ = ["YamlCache", "fingerprint"]


def fingerprint() -> str:
    import yaml

    from slm_deploy import yaml_dump

    h = hashlib.sha256(f"pyyaml={yaml.__version__};libyaml={getattr(yaml, '__with_libyaml__', False)}".encode())
    h.update(Path(yaml_dump.__file__).read_bytes())
    return h.hexdigest()


def _canonical(obj: Any) -> str | None:
    """The object's canonical JSON, or None when JSON would not give it back exactly."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == obj and _same_types(obj) else None


def _same_types(obj: Any) -> bool:
    """Only plain JSON types, never a subclass: ``==`` does not tell ``1`` from ``True`` or an ``IntEnum``
    from an ``int``, and the YAML representers do (a subclass may not even be representable)."""
    if isinstance(obj, dict):
        return all(_same_types(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_same_types(v) for v in obj)
    return obj is None or type(obj) in (str, int, float, bool)


class YamlCache:
    """``dump_yaml`` with a per-object cache for one stack (see the module doc). ``directory`` None: no cache."""

    def __init__(self, stack: str, directory: Path | None):
        self.path = directory / "render" / f"{stack}.json" if directory is not None else None
        self.fingerprint = fingerprint() if self.path is not None else ""
        self._old: dict[str, str] = {}
        self._new: dict[str, str] = {}
        self.hits = 0
        if self.path is not None and self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                data = {}
            if isinstance(data, dict) and data.get("fingerprint") == self.fingerprint:
                self._old = data.get("texts") or {}

    def dump(self, obj: Any) -> str:
        if self.path is None:
            return dump_yaml(obj)
        canonical = _canonical(obj)
        if canonical is None:
            return dump_yaml(obj)
        key = hashlib.sha256(canonical.encode()).hexdigest()
        text = self._old.get(key)
        if text is None:
            text = dump_yaml(obj)
        else:
            self.hits += 1
        self._new[key] = text
        return text

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "texts": self._new}, separators=(",", ":")))
        tmp.replace(self.path)
