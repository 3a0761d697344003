"""What a synth records, without importing Pulumi: :mod:`slm_deploy.synth` fills these under the mock runtime, and a
warm preview (:mod:`slm_deploy.warm`) rebuilds them from the previous build's ``resources.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ResourceRecord", "SynthResult"]


@dataclass
class ResourceRecord:
    """One registered resource, as the engine would see it."""

    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    parent: str | None = None
    """``type::name`` of the parent resource (None for the stack itself)."""
    depends_on: list[str] = field(default_factory=list)
    """``type::name`` of explicit ``depends_on`` resources (ordering the compose export needs)."""

    @property
    def key(self) -> str:
        return f"{self.type}::{self.name}"

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


@dataclass
class SynthResult:
    project: str
    stack: str
    resources: list[ResourceRecord] = field(default_factory=list)

    def of_type(self, prefix: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type.startswith(prefix)]
