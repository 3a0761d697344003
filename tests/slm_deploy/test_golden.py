"""Golden snapshots of the reference stacks' rendered output; any other stack is previewed instead.

A change to the output shows up as a diff here. After an intended change run
``SLM_UPDATE_GOLDEN=1 uv run pytest tests/slm_deploy/test_golden.py`` and review the diff of
tests/golden/. Security fields are also asserted directly elsewhere, so refreshing
a snapshot cannot quietly accept a regression.

Snapshots cover the reference stacks (those with a tests/golden/<stack>/ directory). A stack a user
adds (``slm-deploy new-stack``) has no snapshot: it is checked by previewing it instead — it must
load and pass its own gate — so adding a stack never asks for snapshots that never existed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stacks.loader import list_stacks, load_stack
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


REFERENCE_STACKS = ("cpu", "dev", "edge", "prod", "staging")
"""The stacks shipped with the project; each has a snapshot."""


def snapshot_stacks(root: Path | None = None) -> tuple[list[str], list[str]]:
    """(stacks compared with a snapshot, stacks previewed instead): a stack has a snapshot when it is a
    reference stack (or when refreshing snapshots); a user's own stack is previewed."""
    stacks = list_stacks(root)
    golden = [s for s in stacks if s in REFERENCE_STACKS or (GOLDEN / s).is_dir()]
    return golden, [s for s in stacks if s not in golden]


@pytest.mark.parametrize("stack", snapshot_stacks()[0])
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


def test_user_stacks_are_previewed_and_pass_their_own_gate(tmp_path: Path, monkeypatch):
    """A stack without a snapshot (a team's own) must load and pass its gate, like `./dev preview <stack>`."""
    from slm_deploy.pipeline import build_stack

    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    for stack in snapshot_stacks()[1]:
        build = build_stack(load_stack(stack), tmp_path / stack)
        failed = [f"{f.check_id} {f.resource}: {f.message}" for f in build.gate.failed]
        assert build.gate.ok, (f"stack {stack} (stacks/Pulumi.{stack}.yaml, no golden snapshot: checked by previewing "
                               f"it) fails its own gate; run ./dev preview {stack}: " + "; ".join(failed))


def test_a_user_stack_is_previewed_not_compared_with_a_snapshot(scratch_project: Path):
    for name in (*REFERENCE_STACKS, "team-a"):
        (scratch_project / "stacks" / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    golden, previewed = snapshot_stacks(scratch_project)
    assert golden == sorted(REFERENCE_STACKS) and previewed == ["team-a"]


def test_every_reference_stack_has_a_snapshot():
    assert sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) == sorted(REFERENCE_STACKS)


def test_every_golden_dir_has_a_stack():
    stale = sorted({p.name for p in GOLDEN.iterdir() if p.is_dir()} - set(list_stacks())) if GOLDEN.exists() else []
    assert stale == [], f"golden snapshots without a stack file: {stale}"
