"""Pinned container images, read from ``versions.yaml`` (the single versions file)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator

__all__ = ["PinnedImage", "image", "pinned_images"]

_VERSIONS_FILE = Path(__file__).with_name("versions.yaml")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class PinnedImage(BaseModel):
    """One image pinned by tag and digest."""

    repository: str = Field(description="Registry and repository, e.g. docker.io/vllm/vllm-openai.")
    tag: str = Field(description="Human-readable version; never `latest`.")
    digest: str = Field(description="Content digest the cluster pulls (sha256:<64 hex>).")

    @field_validator("tag")
    @classmethod
    def _no_latest(cls, tag: str) -> str:
        if tag == "latest":
            raise ValueError("tag `latest` floats; pin a version")
        return tag

    @field_validator("digest")
    @classmethod
    def _digest_shape(cls, digest: str) -> str:
        if not _DIGEST.match(digest):
            raise ValueError(f"digest {digest!r} is not sha256:<64 hex>")
        return digest

    @property
    def ref(self) -> str:
        """``repository:tag@digest``, the form Kubernetes and Docker pull by digest."""
        return f"{self.repository}:{self.tag}@{self.digest}"


@lru_cache(maxsize=1)
def pinned_images() -> dict[str, PinnedImage]:
    raw = yaml.load(_VERSIONS_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # same data
    return {name: PinnedImage(**spec) for name, spec in raw["images"].items()}


def image(name: str) -> PinnedImage:
    """The pinned image called ``name`` in versions.yaml."""
    images = pinned_images()
    if name not in images:
        raise KeyError(f"image {name!r} is not in {_VERSIONS_FILE.name}; known: {', '.join(sorted(images))}")
    return images[name]
