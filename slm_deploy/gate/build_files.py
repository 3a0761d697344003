"""One read of a rendered build directory per gate run: every file's bytes and sha256, shared by the gate's steps.

A gate run used to read the build three times over (the verdict cache key hashed every file; the per-object
lookup read the manifests and Dockerfiles again; the inline-suppression scan walked the tree with ``Path.rglob``
and read every file as text) and the rule-file search a fourth time for ``files/``. A 100-service build is
~1,600 files: the walks and opens cost more than the hashing. :meth:`BuildFiles.read` walks and reads once (the
walk of :func:`slm_deploy.gate.cache._files`: same files, same order), and every step reads from the snapshot,
so they also judge the same bytes.

The verdict cache's second key (computed after the verdict, to refuse storing a verdict on files that changed
while they were judged) still walks and reads the directory again from disk: that is its point.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BuildFiles"]


@dataclass(frozen=True)
class BuildFiles:
    """Every file under a build directory (top-level entries in ``skip_top`` left out), read once."""

    root: Path
    data: dict[str, bytes]
    """Build-relative POSIX path -> bytes, in :func:`~slm_deploy.gate.cache._files` order (sorted by path parts)."""
    digests: dict[str, bytes]
    """Build-relative POSIX path -> sha256 digest of its bytes."""
    skip_top: tuple[str, ...] = ("gate",)
    """The top-level entries left out (the gate's own reports by default)."""

    @classmethod
    def read(cls, build_dir: Path, skip_top: tuple[str, ...] = ("gate",)) -> "BuildFiles":
        from slm_deploy.gate.cache import _files

        data: dict[str, bytes] = {}
        for rel, path in _files(build_dir, skip_top):
            with open(path, "rb") as f:
                data[rel] = f.read()
        sha256 = hashlib.sha256
        return cls(Path(build_dir), data, {rel: sha256(raw).digest() for rel, raw in data.items()}, tuple(skip_top))

    def under(self, prefix: str) -> list[str]:
        """The relative paths that start with ``prefix`` (e.g. ``"files/"``), in order."""
        return [rel for rel in self.data if rel.startswith(prefix)]
