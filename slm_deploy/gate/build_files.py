"""One read of a rendered build directory per gate run: every file's bytes and sha256, shared by the gate's steps.

A gate run used to read the build three times over (the verdict cache key hashed every file; the per-object
lookup read the manifests and Dockerfiles again; the inline-suppression scan walked the tree with ``Path.rglob``
and read every file as text) and the rule-file search a fourth time for ``files/``. A 100-service build is
~1,600 files: the walks and opens cost more than the hashing. :meth:`BuildFiles.read` walks and reads once (the
walk of :func:`_files`, which the verdict cache key has always used: same files, same order), and every step reads from the snapshot,
so they also judge the same bytes.

The verdict cache's second key (computed after the verdict, to refuse storing a verdict on files that changed
while they were judged) still walks and reads the directory again from disk: that is its point.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BuildFiles"]

_SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def _suffix(name: str) -> str:
    """``PurePath(name).suffix``."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _files(root: Path, skip_top: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``(path relative to root, POSIX; absolute path)`` of every file under ``root``, in the order of sorted
    ``Path`` objects (by path components): no ``__pycache__``/``.pytest_cache`` part, no ``.pyc``, no top-level
    entry named in ``skip_top``; symlinked directories are not entered (as ``Path.rglob``). A file ``root`` is
    itself (relative name: its name). One ``os.walk`` with plain strings: the cache key walks the whole build dir
    twice per gate run (1,300+ files at 100 services), where ``Path`` objects cost more than the hashing."""
    root = Path(root)
    if not root.exists():
        return []
    if root.is_file():
        return [(root.name, str(root))]
    if _SKIP_PARTS & set(root.parts):
        return []
    found: list[tuple[tuple[str, ...], str, str]] = []
    top = str(root)
    for directory, dirnames, filenames in os.walk(top):
        rel_dir = os.path.relpath(directory, top)
        parts = () if rel_dir == "." else tuple(rel_dir.split(os.sep))
        dirnames[:] = [d for d in dirnames if d not in _SKIP_PARTS and not (not parts and d in skip_top)]
        for name in filenames:
            if name in _SKIP_PARTS or (not parts and name in skip_top) or _suffix(name) == ".pyc":
                continue
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                found.append((parts + (name,), "/".join(parts + (name,)), path))
    found.sort(key=lambda entry: entry[0])
    return [(rel, path) for _, rel, path in found]


@dataclass(frozen=True)
class BuildFiles:
    """Every file under a build directory (top-level entries in ``skip_top`` left out), read once."""

    root: Path
    data: dict[str, bytes]
    """Build-relative POSIX path -> bytes, in :func:`_files` order (sorted by path parts)."""
    digests: dict[str, bytes]
    """Build-relative POSIX path -> sha256 digest of its bytes."""
    skip_top: tuple[str, ...] = ("gate",)
    """The top-level entries left out (the gate's own reports by default)."""

    @classmethod
    def read(cls, build_dir: Path, skip_top: tuple[str, ...] = ("gate",)) -> "BuildFiles":
        data: dict[str, bytes] = {}
        for rel, path in _files(build_dir, skip_top):
            with open(path, "rb") as f:
                data[rel] = f.read()
        sha256 = hashlib.sha256
        return cls(Path(build_dir), data, {rel: sha256(raw).digest() for rel, raw in data.items()}, tuple(skip_top))

    def under(self, prefix: str) -> list[str]:
        """The relative paths that start with ``prefix`` (e.g. ``"files/"``), in order."""
        return [rel for rel in self.data if rel.startswith(prefix)]
