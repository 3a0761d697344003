"""What a synth records and a build made of it, without importing Pulumi or the gate: :mod:`slm_deploy.synth` fills
the records under the mock runtime, :mod:`slm_deploy.pipeline` builds from them, and a warm preview
(:mod:`slm_deploy.warm`) rebuilds them from the previous build's ``resources.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slm_deploy.gate import GateResult

__all__ = ["ResourceRecord", "SynthResult", "Build"]


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


@dataclass
class Build:
    """One stack synthesized, rendered into ``out_dir`` and gated (or, ``unchanged``, the previous such build)."""

    stack: str
    out_dir: Path
    synth: SynthResult
    """Every registered resource; of an unchanged build, as ``resources.json`` lists them (no inputs)."""
    summary: dict[str, Any]
    gate: GateResult
    unchanged: bool = False
    """True when nothing was rebuilt: same inputs as the previous build (see slm_deploy.warm)."""
