"""Shared fixtures: a scratch project root with the real Pulumi.yaml, for config-error tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stacks.loader import project_root

REPO = project_root()


@pytest.fixture
def scratch_project(tmp_path: Path) -> Path:
    """A copy of Pulumi.yaml plus an empty stacks/ dir; write stack files into it."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    return tmp_path


def write_stack(root: Path, name: str, text: str) -> Path:
    path = root / "stacks" / f"Pulumi.{name}.yaml"
    path.write_text(text)
    return path
