"""Verdict cache keyed by a content hash of everything that decides the verdict.

Key = sha256 over: the stack name; every rendered file in the build dir (path + bytes, the gate's own
reports excluded); the policies tree (rules, checkov adapters, compose checks, waivers.yaml); the gate
code; the installed versions of every tool that renders or judges (checkov, kubernetes-validate, pulumi*,
pydantic, PyYAML, Jinja2, Python; promtool by path, size and mtime); and today's date (waivers expire).
A hit returns the stored verdict without importing checkov.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from datetime import date
from importlib import metadata
from pathlib import Path

from slm_deploy.gate import store_json
from slm_deploy.gate.build_files import BuildFiles, _files
from slm_deploy.gate.result import GateResult

__all__ = ["cache_dir", "cache_key", "load_cached", "store_cached", "cache_disabled", "tool_versions"]


def cache_disabled() -> bool:
    return os.environ.get("SLM_DEPLOY_NO_CACHE", "").lower() in ("1", "true", "yes")


def cache_dir() -> Path:
    env = os.environ.get("SLM_DEPLOY_CACHE_DIR")
    if env:
        return Path(env)
    from slm_deploy.gate.result import project_root

    return project_root() / ".slm-deploy-cache" / "gate"


def _digest_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


@functools.lru_cache(maxsize=None)
def _version(dist: str) -> str:
    """An installed distribution's version (read once per process: parsing METADATA costs ~50 ms per dist)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


# What renders and judges a stack besides our own files: a different installed version of any of these
# can change a verdict, so it must change the cache key (uv.lock says what *should* be installed, not what is).
_TOOL_DISTS = ("checkov", "kubernetes-validate", "pulumi", "pulumi-kubernetes", "pulumi-docker", "pulumi-random",
               "pydantic", "PyYAML", "Jinja2")
_TOOL_BINARIES = ("promtool",)


def _binary(name: str) -> str:
    """A binary's identity without running it: resolved path, size and mtime (a package upgrade changes them)."""
    import shutil

    found = shutil.which(name)
    if not found:
        return "missing"
    real = os.path.realpath(found)
    st = os.stat(real)
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def tool_versions() -> dict[str, str]:
    """Installed versions of every tool that renders or judges a stack (Python dists and binaries)."""
    import sys

    found = {dist: _version(dist) for dist in _TOOL_DISTS}
    found |= {name: _binary(name) for name in _TOOL_BINARIES}
    found["python"] = sys.version.split()[0]
    return found


_BUILD_SKIP = ("gate", ".slm-deploy-input")  # reports; slm_deploy.warm's input marker


def cache_key(build_dir: Path, stack: str, policies_dir: Path, waivers: Path, today: date,
              build: BuildFiles | None = None) -> str:
    """The verdict's key. ``build``: the gate run's one read of ``build_dir``
    (:class:`~slm_deploy.gate.build_files.BuildFiles`), hashed instead of reading the directory again; the same key."""
    h = hashlib.sha256()
    h.update(f"stack={stack}\ntoday={today.isoformat()}\n".encode())
    h.update(f"waivers-file={Path(waivers).resolve()}\n".encode())  # findings name the file it came from
    h.update(json.dumps(tool_versions(), sort_keys=True).encode())
    gate_code = Path(__file__).resolve().parent
    if build is not None:
        if Path(build.root) != Path(build_dir) or not set(build.skip_top) <= set(_BUILD_SKIP):
            raise ValueError("cache_key: the build files are not a read of this build directory")
        for rel, digest in build.digests.items():
            if rel.split("/", 1)[0] not in _BUILD_SKIP:
                h.update(f"build:{rel}\n".encode())
                h.update(digest)
    for label, root, skip in (
        *((("build", build_dir, _BUILD_SKIP),) if build is None else ()),
        ("policies", policies_dir, ("crossguard", "CATALOG.md")),
        ("waivers", waivers, ()),
        ("gate", gate_code, ()),
        ("validation", gate_code.parent.parent / "components" / "validation.py", ()),  # apply-validity predicates
    ):
        for rel, path in _files(root, skip):
            h.update(f"{label}:{rel}\n".encode())
            h.update(_digest_file(path))
    return h.hexdigest()


def _entry(stack: str, key: str) -> Path:
    return cache_dir() / f"{stack}-{key}.json"


def load_cached(stack: str, key: str) -> GateResult | None:
    path = _entry(stack, key)
    if not path.exists():
        return None
    try:
        result = GateResult.from_cache(store_json.loads(path.read_bytes()))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    result.cached = True
    return result


def store_cached(result: GateResult) -> None:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{result.stack}-" + "?" * 64 + ".json"):
        old.unlink(missing_ok=True)
    tmp = directory / f".{result.stack}-{result.cache_key}.tmp"
    tmp.write_bytes(store_json.dumps(result.to_cache()))
    tmp.replace(_entry(result.stack, result.cache_key))
