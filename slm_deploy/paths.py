"""Where the project lives. Import-light on purpose: fast commands (gate, --help) use it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["project_root"]


def project_root() -> Path:
    """The directory holding Pulumi.yaml (the repository root)."""
    return Path(__file__).resolve().parent.parent
