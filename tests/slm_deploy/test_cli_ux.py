"""The newcomer's CLI (issue #16): help like pulumi/kubectl/helm, --version/-q/-v, --debug after the command,
--json for stacks and gate, no wrapping without a terminal, phase lines on stderr, commands suggested as the
user can run them, every stack listed (broken ones with their first error), ./dev saying what it installs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, write_stack
from tests.run_cli import run_cli

PLAIN = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "plain", "namespace": "demo"},
         "spec": {"selector": {"matchLabels": {"app": "plain"}}, "template": {
             "metadata": {"labels": {"app": "plain"}},
             "spec": {"containers": [{"name": "plain", "image": "nginx:1.27"}]}}}}


def _process(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """A real ``python -m slm_deploy`` process: for what only a process shows (the version of the installed
    package, a traceback on stderr, a console that is not a terminal from the start)."""
    base = {k: v for k, v in os.environ.items() if k != "SLM_DEPLOY_PROG"}
    return subprocess.run([sys.executable, "-m", "slm_deploy", *args], capture_output=True, text=True, cwd=cwd,
                          env={**base, **(env or {})}, check=False)


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The same command in this process (tests/run_cli.py), SLM_DEPLOY_PROG unset unless given."""
    return run_cli(*args, env={"SLM_DEPLOY_PROG": None, **(env or {})}, cwd=cwd)


def _rendered(tmp_path: Path) -> Path:
    build = tmp_path / "build"
    (build / "manifests").mkdir(parents=True)
    (build / "manifests" / "demo.deployment.plain.yaml").write_text(yaml.safe_dump(PLAIN))
    (build / "resources.json").write_text("[]\n")
    (build / "opt-outs.json").write_text("[]\n")
    return build


COMMANDS = ["stacks", "preview", "up", "models", "size", "policies", "gate", "new-stack", "ci", "export", "schema"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_reads_like_pulumi_kubectl_helm(command):
    from typer.testing import CliRunner

    from slm_deploy.cli import app

    result = CliRunner().invoke(app, ([command] if command else []) + ["--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "<str>" not in result.output and "<path>" not in result.output
    assert "{" not in result.output.split("\n\n")[0], result.output  # no {stack} in the usage line
    assert "╭" not in result.output  # plain text, no boxes


def test_usage_names_the_argument_stack():
    from typer.testing import CliRunner

    from slm_deploy.cli import app

    out = CliRunner().invoke(app, ["preview", "--help"]).output
    assert out.startswith("Usage: slm-deploy preview [OPTIONS] STACK")
    assert "--out DIR" in out and "--engine ENGINE" in out


def test_version_flag():
    proc = _process("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("slm-deploy ")


def test_debug_after_the_command(scratch_project: Path):
    write_stack(scratch_project, "broken", "config:\n  slm-deploy:namespce: x\n")
    proc = _process("-C", str(scratch_project), "preview", "broken", "--debug")
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    from slm_deploy.cli import hoist_global_flags

    assert hoist_global_flags(["preview", "x", "--debug", "-q"]) == ["--debug", "-q", "preview", "x"]
    assert hoist_global_flags(["size", "--", "--debug"]) == ["size", "--", "--debug"]


def test_gate_prints_phase_lines_and_q_silences_them_v_adds_detail(tmp_path: Path):
    build = _rendered(tmp_path)
    env = {"SLM_DEPLOY_CACHE_DIR": str(tmp_path / "cache")}
    normal = _cli("gate", "demo", "--out", str(build), "--no-cache", env=env)
    assert normal.returncode == 1  # the plain Deployment fails the gate
    phases = [line.split()[0] for line in normal.stderr.splitlines() if line.startswith("  ")]
    assert phases == ["validate", "checkov", "reports"], normal.stderr
    assert all(" s " in line for line in normal.stderr.splitlines() if line.startswith("  "))
    quiet = _cli("-q", "gate", "demo", "--out", str(build), "--no-cache", env=env)
    assert quiet.returncode == 1 and quiet.stderr.strip() == "" and "Gate FAILED" in quiet.stdout
    verbose = _cli("gate", "demo", "--out", str(build), "-v", env=env)
    assert "verdict cache key" in verbose.stderr and "verdict cache key" not in normal.stderr


def test_gate_json(tmp_path: Path):
    build = _rendered(tmp_path)
    proc = _cli("gate", "demo", "--out", str(build), "--json", env={"SLM_DEPLOY_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 1
    payload = json.loads(proc.stdout)
    assert payload["ok"] is False and payload["stack"] == "demo" and payload["failed"] > 0
    assert Path(payload["reports"]["sarif"]).exists()
    assert {f["check"] for f in payload["failures"]} >= {"CKV_K8S_20"}


def test_stacks_lists_every_stack_marks_the_broken_one_and_json(scratch_project: Path):
    shutil.copy(REPO / "stacks" / "Pulumi.staging.yaml", scratch_project / "stacks" / "Pulumi.staging.yaml")
    write_stack(scratch_project, "broken", "config:\n  slm-deploy:namespce: a-namespace-with-a-typo-in-its-key\n")
    proc = _cli("-C", str(scratch_project), "stacks")
    assert proc.returncode == 2  # documented: a broken stack file fails the listing, after listing all
    rows = [line for line in proc.stdout.splitlines() if "stacks/Pulumi." in line]
    assert len(rows) == 2
    broken = next(r for r in rows if "broken" in r)
    assert "BROKEN" in broken and "stacks/Pulumi.broken.yaml:2: slm-deploy:namespce" in broken
    assert len(broken) > 80  # one line, never wrapped or cut without a terminal
    good = next(r for r in rows if "staging" in r)
    assert "kubernetes" in good and "ok" in good
    as_json = _cli("-C", str(scratch_project), "stacks", "--json")
    data = {r["stack"]: r for r in json.loads(as_json.stdout)}
    assert data["staging"]["ok"] is True and data["staging"]["target"] == "kubernetes"
    assert data["broken"]["ok"] is False and "namespce" in data["broken"]["error"]


def test_no_wrapping_or_truncation_without_a_terminal():
    proc = _process("--help")
    line = next(x for x in proc.stdout.splitlines() if x.strip().startswith("stacks "))
    assert line.rstrip().endswith("mark broken ones with their first error.") and "..." not in line
    models = _process("models")
    assert all("…" not in x for x in models.stdout.splitlines())


def test_suggested_command_is_the_one_that_works(tmp_path: Path):
    via_dev = _cli("gate", "nope", "--out", str(tmp_path / "none"), env={"SLM_DEPLOY_PROG": "./dev"})
    assert via_dev.returncode == 2 and "run `./dev preview nope` first" in via_dev.stderr
    plain = _cli("gate", "nope", "--out", str(tmp_path / "none"))
    assert "run `slm-deploy preview nope` first" in plain.stderr
    no_pulumi = _cli("up", "staging", env={"PATH": str(tmp_path), "SLM_DEPLOY_PROG": "./dev"})
    assert "./dev preview STACK" in no_pulumi.stderr


def test_preview_prints_each_phase_with_its_duration(tmp_path: Path):
    proc = _cli("preview", "staging", "--out", str(tmp_path / "out"), env={"SLM_DEPLOY_NO_CACHE": "1"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "Previewing stack staging offline: synth, render, validate, checkov, reports"
    phases = [line for line in lines if line.startswith("  ")]
    assert [line.split()[0] for line in phases] == ["synth", "render", "validate", "checkov", "reports"]
    assert all(line.split()[2] == "s" and float(line.split()[1]) >= 0 for line in phases)
    # the sizing plan is never silent
    assert any(line.startswith("sizing   phi4-mini: phi-4-mini-instruct bf16 -> 1x L4, TP 1, max-model-len ")
               for line in lines), lines


def test_new_stack_shows_the_sizing_plan_and_writes_the_ci_workflow(scratch_project: Path):
    proc = _cli("-C", str(scratch_project), "new-stack", "--no-input", "--set", "stack_name=team-q",
                "--set", "kind=vllm-gpu", "--set", "model=qwen3-8b", "--set", "gpu=l4",
                env={"SLM_DEPLOY_PROG": "./dev"})
    assert proc.returncode == 0, proc.stderr
    assert "sizing   qwen3-8b: qwen3-8b bf16 -> 2x L4, TP 2, max-model-len " in proc.stdout
    assert "max-num-seqs 19 (the fewest l4 GPUs it fits on)" in proc.stdout  # why two GPUs
    assert ".github/workflows/slm-deploy-team-q.yml" in proc.stdout and "Next: ./dev preview team-q" in proc.stdout
    assert (scratch_project / ".github" / "workflows" / "slm-deploy-team-q.yml").exists()


def test_new_stack_keeps_a_draft_that_does_not_validate(scratch_project: Path):
    proc = _cli("-C", str(scratch_project), "new-stack", "--no-input", "--set", "stack_name=team-big",
                "--set", "kind=ollama-docker", "--set", "model=qwen3-8b", "--set", "host_memory_gb=2")
    assert proc.returncode == 2
    draft = scratch_project / "stacks" / "Pulumi.team-big.yaml"
    assert draft.exists() and "kept as a draft" in proc.stderr and "preview team-big" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_message_hard_codes_a_command_that_is_not_on_path():
    """Every suggested command is printed as the user can run it: through prog() (./dev when ./dev ran us), or
    as ./dev in files committed to the repository. A backquoted `slm-deploy ...` in a message string or a
    template would be 'command not found' after ./dev (issue #16). Docstrings and comments may name the CLI."""
    import ast

    found = []
    for root in ("slm_deploy", "stacks", "components", "policies"):
        for path in (REPO / root).rglob("*.py"):
            tree = ast.parse(path.read_text())
            docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                          if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                          and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                        and "`slm-deploy " in node.value:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value[:80]}")
    for path in [*(REPO / "templates").rglob("*.j2"), *(REPO / "templates" / "stack").rglob("*.yaml"),
                 REPO / "templates" / "stack" / "cookiecutter.json"]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "`slm-deploy " in line or "(slm-deploy " in line:
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:80]}")
    assert found == []


# --------------------------------------------------------------------------- a gated model offline
GATED = "config:\n  slm-deploy:namespace: slm-g\n  slm-deploy:vllm:\n    - name: gem\n      model: gemma-3-4b-it\n      gpu: l4\n"


def test_gated_model_previews_offline_with_a_placeholder_and_a_note(scratch_project: Path):
    write_stack(scratch_project, "g", GATED)
    out = scratch_project / "out"
    proc = _cli("-C", str(scratch_project), "preview", "g", "--out", str(out), env={"SLM_DEPLOY_PROG": "./dev"})
    assert proc.returncode == 0, proc.stderr
    assert "note: stacks/Pulumi.g.yaml:5: slm-deploy:vllm[0].model = 'gemma-3-4b-it': gemma-3-4b-it is gated" in proc.stderr
    assert ("note: offline, hfToken is a placeholder (nothing is downloaded or read); the real engine (pulumi preview"
            " / pulumi up, ./dev up g) refuses to run without it") in proc.stderr
    assert "pulumi config set --secret hfToken --stack g" in proc.stderr
    assert "      slm-deploy:hfToken:\n        secure: <ciphertext>" in proc.stderr  # the stack-file form
    assert "Gate passed for stack g" in proc.stdout
    listed = _cli("-C", str(scratch_project), "stacks", "--json")
    [row] = json.loads(listed.stdout)
    assert listed.returncode == 0 and row["ok"] and row["secretsForPulumiUp"] == ["hfToken"]


@pytest.mark.parametrize("command", [["up", "g", "--yes"], ["preview", "g", "--engine", "pulumi"]])
def test_gated_model_without_its_token_is_still_an_error_for_the_real_engine(scratch_project: Path, tmp_path: Path,
                                                                              command: list[str]):
    write_stack(scratch_project, "g", GATED)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pulumi").write_text("#!/bin/sh\necho pulumi must not run >&2\nexit 3\n")
    (fake / "pulumi").chmod(0o755)
    proc = _cli("-C", str(scratch_project), *command,
                env={"PATH": f"{fake}:{os.environ['PATH']}", "SLM_DEPLOY_PROG": "./dev"})
    assert proc.returncode == 2, proc.stderr
    assert "error: stacks/Pulumi.g.yaml:5: slm-deploy:vllm[0].model = 'gemma-3-4b-it'" in proc.stderr
    assert "pulumi config set --secret hfToken --stack g" in proc.stderr and "secure: <ciphertext>" in proc.stderr
    assert "./dev preview g" in proc.stderr  # the offline preview still works
    assert "pulumi must not run" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (scratch_project / "build").exists()


# --------------------------------------------------------------------------- ./dev on a fresh clone
FAKE_UV = """#!/usr/bin/env bash
# Stands in for uv: `sync` creates the environment, `run` shows what it would run.
if [ "$1" = sync ]; then mkdir -p .venv/bin && printf '#!/bin/sh\\n' > .venv/bin/python && chmod +x .venv/bin/python; exit 0; fi
if [ "$1" = run ]; then shift; echo "run: $* SLM_DEPLOY_PROG=$SLM_DEPLOY_PROG"; exit 0; fi
exit 0
"""


def test_dev_says_it_is_setting_up_on_a_first_run(tmp_path: Path):
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(REPO / "dev", clone / "dev")
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, clone / name)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "uv").write_text(FAKE_UV)
    (fake / "uv").chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def dev(*args):
        return subprocess.run([str(clone / "dev"), *args], capture_output=True, text=True, cwd=clone, env=env,
                              check=False)

    first = dev("stacks")
    assert first.returncode == 0, first.stderr
    assert "dev: setting up the environment (first run, about a minute)" in first.stderr
    assert "run: --frozen slm-deploy stacks SLM_DEPLOY_PROG=./dev" in first.stdout
    second = dev("stacks")
    assert second.stderr == ""  # nothing to say when nothing changed
    os.utime(clone / "uv.lock")
    (clone / "uv.lock").write_text((clone / "uv.lock").read_text() + "\n")
    third = dev("stacks")
    assert "dev: updating the environment (uv.lock changed)" in third.stderr
