"""CLI exit codes and behaviour on bad input: 0 ok, 1 gate failed, 2 bad input; no tracebacks.

The process boundary (what a shell sees: the exit code of ``python -m slm_deploy``, stderr, no traceback unless
``--debug``) is tested through a real subprocess (``_process``); what the commands do runs in-process
(``tests/run_cli.py``: the same app and argument handling, without ~2 s of imports per call)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, write_stack
from tests.run_cli import run_cli


def _process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A real ``python -m slm_deploy`` process (for the tests of the process boundary)."""
    return subprocess.run(
        [sys.executable, "-m", "slm_deploy", *args],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, **(env or {})}, check=False,
    )


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, cwd=REPO)


def test_preview_ok_writes_build_dir_and_json(tmp_path: Path):
    stack = "staging"
    proc = _cli("preview", stack, "--out", str(tmp_path / "out"), "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["stack"] == stack and payload["gate"]["ok"] is True
    assert (tmp_path / "out" / "resources.json").exists()
    assert any((tmp_path / "out" / "manifests").iterdir())


def test_bad_config_exits_2_one_line_no_traceback_nothing_written(scratch_project: Path):
    write_stack(scratch_project, "broken", "config:\n  slm-deploy:namespce: x\n")
    out = scratch_project / "out"
    proc = _process("-C", str(scratch_project), "preview", "broken", "--out", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "stacks/Pulumi.broken.yaml:2: slm-deploy:namespce" in lines[0]
    assert not out.exists()


def test_debug_flag_shows_the_traceback(scratch_project: Path):
    write_stack(scratch_project, "broken", "config:\n  slm-deploy:namespce: x\n")
    proc = _process("--debug", "-C", str(scratch_project), "preview", "broken", "--out", str(scratch_project / "o"))
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_missing_stack_exits_2(scratch_project: Path):
    proc = _cli("-C", str(scratch_project), "preview", "nope")
    assert proc.returncode == 2 and "no such stack file" in proc.stderr


def test_engine_pulumi_without_cli_explains_in_one_line(tmp_path: Path):
    proc = _cli("preview", "staging", "--engine", "pulumi", env={"PATH": str(tmp_path)})
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "pulumi CLI is not on PATH" in lines[0]


def test_up_without_cli_explains_in_one_line(tmp_path: Path):
    proc = _cli("up", "staging", env={"PATH": str(tmp_path)})
    assert proc.returncode == 2 and "pulumi CLI is not on PATH" in proc.stderr


def test_stacks_lists_targets():
    proc = _cli("stacks")
    assert proc.returncode == 0
    assert "staging" in proc.stdout and "kubernetes" in proc.stdout


def test_gate_failure_exits_1_and_still_writes_the_reports(tmp_path: Path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - id: W-OLD\n    check: CKV_K8S_43\n    resource: {kind: Deployment, name: phi4-mini}\n"
        "    stacks: [staging]\n    reason: temporary exception that has run out\n    approver: security\n"
        "    expires: 2020-01-01\n"
    )
    out = tmp_path / "out"
    proc = _cli("preview", "staging", "--out", str(out), "--json",
                env={"SLM_DEPLOY_WAIVERS": str(waivers), "SLM_DEPLOY_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 1, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["gate"]["ok"] is False
    assert [f["check_id"] for f in payload["gate"]["failed"]] == ["SLM_GATE_EXPIRED_WAIVER"]
    assert (out / "gate" / "report.sarif").exists() and (out / "gate" / "junit.xml").exists()


def test_out_never_deletes_a_directory_that_is_not_a_build(tmp_path: Path):
    victim = tmp_path / "victim"
    (victim / "important").mkdir(parents=True)
    (victim / "important" / "thesis.txt").write_text("years of work")
    proc = _cli("preview", "staging", "--out", str(victim))
    assert proc.returncode == 2
    assert "not a previous slm-deploy build" in proc.stderr
    assert (victim / "important" / "thesis.txt").read_text() == "years of work"


def test_out_replaces_a_previous_build(tmp_path: Path):
    out = tmp_path / "out"
    assert _cli("preview", "staging", "--out", str(out)).returncode == 0
    (out / "manifests" / "stale.yaml").write_text("kind: Stale\n")
    assert _cli("preview", "staging", "--out", str(out)).returncode == 0
    assert not (out / "manifests" / "stale.yaml").exists()
