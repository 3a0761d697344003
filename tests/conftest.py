"""Shared fixtures: the reference stacks synthesized once per session; a scratch project root for config-error tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from stacks.loader import project_root

REPO = project_root()


@pytest.fixture(scope="session")
def synthesized() -> Callable[[str], "SynthResult"]:
    """``synthesized(stack)``: the reference stack through the real program under the mock runtime, once per
    session (the synth is the slow step; tests read the result and must not change it)."""
    from slm_deploy.pipeline import synth_stack
    from stacks.loader import load_stack

    cache: dict[str, object] = {}

    def get(stack: str):
        if stack not in cache:
            cache[stack] = synth_stack(load_stack(stack))
        return cache[stack]

    return get


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
