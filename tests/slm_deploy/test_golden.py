"""Golden snapshots of the reference stacks' rendered output; any other stack is previewed instead.

A change to the output shows up as a diff here. After an intended change run
``SLM_UPDATE_GOLDEN=1 uv run pytest tests/slm_deploy/test_golden.py`` and review the diff of
tests/golden/. Security fields are also asserted directly elsewhere, so refreshing
a snapshot cannot quietly accept a regression.

A rendered file that is a byte copy of a file in the repository (the lifecycle scripts, the edge server, the
gateway's files: copied, never templated) is snapshotted as ``<name>.sha256``, one line in ``sha256sum``
format naming its source (``sha256sum -c`` from the repository root checks it). Its content is reviewed in the
source file's own diff; storing it again per stack only repeated those diffs (and ~200 KB of code that
``duplicates`` flags), while the stub still fails the test on any change to what ships: a changed source
changes the hash, and a file that stops being a byte copy shows up in full.

Snapshots cover the reference stacks (those with a tests/golden/<stack>/ directory). A stack a user
adds (``slm-deploy new-stack``) has no snapshot: it is checked by previewing it instead — it must
load and pass its own gate — so adding a stack never asks for snapshots that never existed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from stacks.loader import list_stacks, load_stack
from slm_deploy.render import render

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("SLM_UPDATE_GOLDEN") == "1"
SNAPSHOT_PARTS = ("manifests", "compose.yaml", "files", "resources.json", "opt-outs.json")
REPO = GOLDEN.parents[1]
COPY_SOURCES = ("components", "templates")
"""Where the files a stack ships verbatim come from."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def repo_sources() -> dict[str, str]:
    """sha256 -> repository path (the first in sorted order) of every file a stack may ship as a byte copy."""
    index: dict[str, str] = {}
    for top in COPY_SOURCES:
        for f in sorted((REPO / top).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                index.setdefault(_sha256(f.read_bytes()), f.relative_to(REPO).as_posix())
    return index


def _tree(root: Path, sources: dict[str, str] | None = None) -> dict[str, str]:
    """Snapshot path -> text; with ``sources``, a byte copy of a repository file becomes ``<path>.sha256``."""
    files = {}
    for part in SNAPSHOT_PARTS:
        path = root / part
        found = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else []
        for f in found:
            rel = f.relative_to(root).as_posix()
            digest = _sha256(f.read_bytes()) if sources is not None else ""
            if digest in (sources or {}):
                files[f"{rel}.sha256"] = f"{digest}  {sources[digest]}\n"
            else:
                files[rel] = f.read_text()
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
    actual = _tree(out, repo_sources())
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


def test_a_copied_file_is_a_hash_stub_that_fails_on_any_change(tmp_path: Path):
    """A rendered byte copy of a repository file is snapshotted as its source and sha256; changing one byte of
    the rendered file (or of its source) changes the snapshot, and so fails the comparison."""
    sources = repo_sources()
    script = REPO / "components" / "lifecycle" / "scripts" / "smoke_check.py"
    (tmp_path / "files" / "x").mkdir(parents=True)
    (tmp_path / "files" / "x" / "smoke_check.py").write_bytes(script.read_bytes())
    (tmp_path / "files" / "x" / "own.txt").write_text("rendered\n")
    digest = hashlib.sha256(script.read_bytes()).hexdigest()
    assert _tree(tmp_path, sources) == {"files/x/smoke_check.py.sha256": f"{digest}  components/lifecycle/scripts/smoke_check.py\n",
                                        "files/x/own.txt": "rendered\n"}
    (tmp_path / "files" / "x" / "smoke_check.py").write_bytes(script.read_bytes() + b"#\n")
    assert "files/x/smoke_check.py" in _tree(tmp_path, sources)  # no longer a copy: snapshotted in full


def test_every_hash_stub_names_its_source_as_it_is():
    """`sha256sum -c` of every stub, from the repository root: the named source has that hash."""
    stubs = sorted(GOLDEN.rglob("*.sha256"))
    assert stubs, "the lifecycle scripts are byte copies: their snapshots are hash stubs"
    for stub in stubs:
        digest, source = stub.read_text().split()
        assert hashlib.sha256((REPO / source).read_bytes()).hexdigest() == digest, f"{stub.relative_to(GOLDEN)}: {source} changed"
