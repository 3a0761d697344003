"""Verdict cache keyed by a content hash of everything that decides the verdict.

Key = sha256 over: the stack name; every rendered file in the build dir (path + bytes, the gate's own
reports excluded); the policies tree (rules, checkov adapters, compose checks, waivers.yaml); the gate
code; the checkov and kubernetes-validate versions; and today's date (waivers expire by date).
A hit returns the stored verdict without importing checkov.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from importlib import metadata
from pathlib import Path

from slm_deploy.gate.result import GateResult

__all__ = ["cache_dir", "cache_key", "load_cached", "store_cached", "cache_disabled"]

_SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def cache_disabled() -> bool:
    return os.environ.get("SLM_DEPLOY_NO_CACHE", "").lower() in ("1", "true", "yes")


def cache_dir() -> Path:
    env = os.environ.get("SLM_DEPLOY_CACHE_DIR")
    if env:
        return Path(env)
    from slm_deploy.gate.result import project_root

    return project_root() / ".slm-deploy-cache" / "gate"


def _tree(root: Path, skip_top: tuple[str, ...] = ()) -> list[Path]:
    if not root.exists():
        return []
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and not (_SKIP_PARTS & set(p.parts)) and p.suffix not in (".pyc",)
        and p.relative_to(root).parts[0] not in skip_top
    )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def cache_key(build_dir: Path, stack: str, policies_dir: Path, waivers: Path, today: date) -> str:
    h = hashlib.sha256()
    h.update(f"stack={stack}\ntoday={today.isoformat()}\n".encode())
    h.update(f"waivers-file={Path(waivers).resolve()}\n".encode())  # findings name the file it came from
    h.update(f"checkov={_version('checkov')}\nkubernetes-validate={_version('kubernetes-validate')}\n".encode())
    gate_code = Path(__file__).resolve().parent
    for label, root, skip in (
        ("build", build_dir, ("gate",)),
        ("policies", policies_dir, ("crossguard", "CATALOG.md")),
        ("waivers", waivers, ()),
        ("gate", gate_code, ()),
    ):
        for path in _tree(root, skip):
            rel = path.relative_to(root).as_posix() if path != root else path.name
            h.update(f"{label}:{rel}\n".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _entry(stack: str, key: str) -> Path:
    return cache_dir() / f"{stack}-{key}.json"


def load_cached(stack: str, key: str) -> GateResult | None:
    path = _entry(stack, key)
    if not path.exists():
        return None
    try:
        result = GateResult.from_json(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError):
        return None
    result.cached = True
    return result


def store_cached(result: GateResult) -> None:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{result.stack}-" + "?" * 64 + ".json"):
        old.unlink(missing_ok=True)
    tmp = directory / f".{result.stack}-{result.cache_key}.tmp"
    tmp.write_text(json.dumps(result.to_json(), sort_keys=True))
    tmp.replace(_entry(result.stack, result.cache_key))
