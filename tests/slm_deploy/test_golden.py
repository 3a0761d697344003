"""Golden snapshots of every reference stack's rendered output.

A change to the output shows up as a diff here. After an intended change run
``SLM_UPDATE_GOLDEN=1 uv run pytest tests/slm_deploy/test_golden.py`` and review the diff of
tests/golden/. Security fields are also asserted directly elsewhere, so refreshing
a snapshot cannot quietly accept a regression.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stacks.loader import list_stacks
from slm_deploy.render import render

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("SLM_UPDATE_GOLDEN") == "1"
SNAPSHOT_PARTS = ("manifests", "compose.yaml", "files", "resources.json", "opt-outs.json")


def _tree(root: Path) -> dict[str, str]:
    files = {}
    for part in SNAPSHOT_PARTS:
        path = root / part
        if path.is_file():
            files[part] = path.read_text()
        elif path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file():
                    files[str(f.relative_to(root))] = f.read_text()
    return files


@pytest.mark.parametrize("stack", list_stacks())
def test_stack_matches_golden(stack: str, tmp_path: Path, synthesized):
    out = tmp_path / stack
    render(synthesized(stack), out)
    actual = _tree(out)
    golden_dir = GOLDEN / stack
    if UPDATE:
        shutil.rmtree(golden_dir, ignore_errors=True)
        for rel, text in actual.items():
            (golden_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / rel).write_text(text)
    expected = _tree(golden_dir)
    assert sorted(actual) == sorted(expected), "files differ; SLM_UPDATE_GOLDEN=1 to refresh after review"
    for rel in actual:
        assert actual[rel] == expected[rel], f"{stack}/{rel} differs from tests/golden; SLM_UPDATE_GOLDEN=1 to refresh after review"


def test_every_golden_dir_has_a_stack():
    stale = sorted({p.name for p in GOLDEN.iterdir() if p.is_dir()} - set(list_stacks())) if GOLDEN.exists() else []
    assert stale == [], f"golden snapshots without a stack file: {stale}"
