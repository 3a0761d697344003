"""Warm preview (slm_deploy/warm.py) and the program gate's input key (slm_deploy/program_gate.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from slm_deploy import program_gate
from tests.conftest import REPO
from tests.run_cli import run_cli


def _preview(out: Path, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``preview staging --json`` in this process (tests/run_cli.py); the warm path in a fresh process is the last
    call of test_unchanged_stack_is_not_rebuilt_and_says_so."""
    return run_cli("preview", "staging", "--out", str(out), "--json", cwd=REPO,
                   env={"SLM_DEPLOY_CACHE_DIR": str(cache), **env})


def test_unchanged_stack_is_not_rebuilt_and_says_so(tmp_path: Path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = _preview(out, cache)
    assert first.returncode == 0, first.stderr
    cold = json.loads(first.stdout)
    assert cold["unchanged"] is False
    stamp = (out / "resources.json").stat().st_mtime_ns
    time.sleep(0.01)

    second = _preview(out, cache)
    assert second.returncode == 0, second.stderr
    warm = json.loads(second.stdout)
    assert warm["unchanged"] is True
    assert warm["resources"] == cold["resources"] and warm["counts"] == cold["counts"] and warm["gate"] == cold["gate"]
    assert (out / "resources.json").stat().st_mtime_ns == stamp  # nothing was rendered again
    assert (out / "gate" / "report.sarif").is_file()
    assert "sizing   phi4-mini: phi-4-mini-instruct bf16 -> 1x L4" in second.stderr  # the plan is never silent

    text = subprocess.run([sys.executable, "-m", "slm_deploy", "preview", "staging", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, check=False,
                          env={**os.environ, "SLM_DEPLOY_CACHE_DIR": str(cache)})
    assert text.returncode == 0 and "unchanged" in text.stdout


def test_an_edited_build_or_no_cache_builds_again(tmp_path: Path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert _preview(out, cache).returncode == 0
    manifest = next((out / "manifests").glob("*.deployment.*.yaml"))
    original = manifest.read_text()
    manifest.write_text(original.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"))
    again = _preview(out, cache)
    assert json.loads(again.stdout)["unchanged"] is False and again.returncode == 0
    assert manifest.read_text() == original  # rebuilt from the program, the edit is gone
    assert json.loads(_preview(out, cache, SLM_DEPLOY_NO_CACHE="1").stdout)["unchanged"] is False


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for rel, text in {
        "Pulumi.yaml": "name: slm-deploy\n", "components/a.py": "A = 1\n", "stacks/program.py": "",
        "stacks/Pulumi.a.yaml": "config: {}\n", "stacks/Pulumi.b.yaml": "config: {}\n", "stacks/README.md": "doc\n",
        "docs/a.md": "doc\n", "tests/test_a.py": "", "build/a/x.yaml": "", "templates/files/x.j2": "{{ x }}\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_input_files_are_the_stacks_own_inputs(tmp_path: Path):
    root = _root(tmp_path)
    rels = sorted(p.relative_to(root).as_posix() for p in program_gate.input_files("a", root))
    assert rels == ["Pulumi.yaml", "components/a.py", "stacks/Pulumi.a.yaml", "stacks/program.py", "templates/files/x.j2"]


def test_input_key_ignores_other_stacks_and_follows_the_code(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SLM_DEPLOY_WAIVERS", str(tmp_path / "waivers.yaml"))
    root = _root(tmp_path)
    payload = {"values": {"namespace": "a"}, "secretKeys": []}
    key = program_gate.input_key("a", payload, root)
    (root / "stacks" / "Pulumi.c.yaml").write_text("config: {}\n")  # a new stack: no miss for the others
    (root / "docs" / "a.md").write_text("more doc\n")
    assert program_gate.input_key("a", payload, root) == key
    (root / "components" / "a.py").write_text("A = 2\n")
    assert program_gate.input_key("a", payload, root) != key
    key = program_gate.input_key("a", payload, root)
    (root / "stacks" / "Pulumi.a.yaml").write_text("config: {x: 1}\n")
    assert program_gate.input_key("a", payload, root) != key
    key = program_gate.input_key("a", payload, root)
    (tmp_path / "waivers.yaml").write_text("waivers: []\n")
    assert program_gate.input_key("a", payload, root) != key


def test_input_key_follows_the_gate_tools(tmp_path: Path, monkeypatch):
    from slm_deploy.gate import cache

    monkeypatch.setenv("SLM_DEPLOY_WAIVERS", str(tmp_path / "waivers.yaml"))
    root = _root(tmp_path)
    key = program_gate.input_key("a", {}, root)
    monkeypatch.setattr(cache, "tool_versions", lambda: {"promtool": "missing"})
    missing = program_gate.input_key("a", {}, root)
    monkeypatch.setattr(cache, "tool_versions", lambda: {"promtool": "/usr/bin/promtool:1:2"})
    assert len({key, missing, program_gate.input_key("a", {}, root)}) >= 2


def test_old_program_verdicts_are_pruned(tmp_path: Path):
    for n in range(6):
        entry = tmp_path / f"staging-{n:032d}.json"
        entry.write_text("{}")
        os.utime(entry, (1000 + n, 1000 + n))
    (tmp_path / f"prod-{0:032d}.json").write_text("{}")
    program_gate._prune(tmp_path, "staging")
    assert sorted(p.name[:10] for p in tmp_path.glob("staging-*.json")) == ["staging-00"] * 3
    assert {p.name for p in tmp_path.glob("staging-*")} == {f"staging-{n:032d}.json" for n in (3, 4, 5)}
    assert (tmp_path / f"prod-{0:032d}.json").exists()
