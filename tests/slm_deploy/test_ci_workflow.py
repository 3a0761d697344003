"""The generated GitHub Actions workflow passes three real judges with no findings: the GitHub workflow JSON schema
(check-jsonschema), actionlint (with shellcheck on the run: scripts) and zizmor; and it has the shape docs/ci.md
promises. Each judge is also shown to fail on a broken variant."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slm_deploy.ci_workflow import ACTIONS, render_workflow, write_workflow
from tests.conftest import REPO
from tests.run_cli import run_cli

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing from the dev environment (uv sync --group dev)"
    return str(path)


@pytest.fixture(scope="module", params=["staging", "dev"])
def workflow(request, tmp_path_factory) -> Path:
    """A repository-shaped directory holding the generated workflow (a Kubernetes and a Docker stack)."""
    stack = request.param
    root = tmp_path_factory.mktemp(f"repo-{stack}")
    target = "docker" if stack == "dev" else "kubernetes"
    path = write_workflow(root, stack, target)
    assert path == root / ".github" / "workflows" / f"slm-deploy-{stack}.yml"
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, check=False)


def test_check_jsonschema_github_workflows_schema(workflow):
    proc = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow),
                cwd=workflow.parents[2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok -- validation done" in proc.stdout


def test_check_jsonschema_rejects_a_broken_workflow(tmp_path):
    """The judge can fail: a job without runs-on is not a workflow."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    steps: [{run: echo}]\n")
    proc = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad), cwd=tmp_path)
    assert proc.returncode != 0


def _actionlint(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on one workflow, with shellcheck judging every run: script (never silently disabled)."""
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: ./dev test installs it (Debian package shellcheck)"
    proc = _run(_tool("actionlint"), "-no-color", "-oneline", "-verbose", f"-shellcheck={shellcheck}", "-pyflakes=",
                str(path.relative_to(cwd)), cwd=cwd)
    assert 'Rule "shellcheck" was disabled' not in proc.stderr, proc.stderr
    return proc


def test_actionlint_no_findings(workflow):
    proc = _actionlint(workflow, workflow.parents[2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Found total 0 errors" in proc.stderr and proc.stdout == "", proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_job_reference_and_an_unquoted_variable(tmp_path):
    text = render_workflow("staging", "kubernetes")
    text = text.replace("needs: preview", "needs: previwe").replace('"$RUNNER_TEMP/kubeconfig"\n',
                                                                     "$RUNNER_TEMP/kubeconfig\n", 1)
    path = tmp_path / ".github" / "workflows" / "w.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    proc = _actionlint(path, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'job "deploy" needs job "previwe" which does not exist' in proc.stdout, proc.stdout
    assert "[shellcheck]" in proc.stdout and "SC2086" in proc.stdout, proc.stdout


def test_zizmor_no_findings(workflow):
    proc = _run(_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(workflow),
                cwd=workflow.parents[2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr


def test_zizmor_catches_an_unpinned_action_and_persisted_credentials(tmp_path):
    text = render_workflow("staging", "kubernetes")
    text = text.replace(str(ACTIONS["checkout"]), "actions/checkout@v7").replace("persist-credentials: false",
                                                                                 "fetch-depth: 1")
    path = tmp_path / ".github" / "workflows" / "w.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    proc = _run(_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(path), cwd=tmp_path)
    assert proc.returncode != 0
    assert "unpinned-uses" in proc.stdout and "artipacked" in proc.stdout


def test_shape_pr_gate_main_deploy_behind_environment():
    doc = yaml.safe_load(render_workflow("prod", "kubernetes"))
    triggers = doc[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    assert doc["permissions"] == {}
    assert doc["concurrency"]["group"].startswith("slm-deploy-prod-")
    preview, deploy = doc["jobs"]["preview"], doc["jobs"]["deploy"]
    assert preview["permissions"] == {"contents": "read", "security-events": "write", "checks": "write"}
    runs = [s.get("run", "") for s in preview["steps"]]
    assert "./dev preview prod" in runs  # the README's command: set-up plus the gated preview
    uses = [s.get("uses", "") for s in preview["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    sarif = next(s for s in preview["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert sarif["with"]["sarif_file"] == "build/prod/gate/report.sarif" and sarif["if"] == "${{ !cancelled() }}"
    junit = next(s for s in preview["steps"] if s.get("uses", "").startswith("mikepenz/action-junit-report@"))
    assert junit["with"]["report_paths"] == "build/prod/gate/junit.xml"
    assert deploy["environment"] == "slm-deploy-prod" and deploy["needs"] == "preview"
    assert deploy["permissions"] == {"contents": "read"}
    assert "refs/heads/main" in deploy["if"]
    assert "./dev up prod --yes" in deploy["steps"][-1]["run"]
    assert "secrets." not in yaml.safe_dump(preview)  # secrets only in the environment-protected job
    for line in render_workflow("prod", "kubernetes").splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_ci_command_writes_the_workflow_for_an_existing_stack(tmp_path):
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    proc = run_cli("-C", str(tmp_path), "ci", "staging", cwd=REPO)  # in this process (tests/run_cli.py)
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / ".github" / "workflows" / "slm-deploy-staging.yml"
    assert path.read_text() == render_workflow("staging", "kubernetes")
    assert "Wrote .github/workflows/slm-deploy-staging.yml" in proc.stdout
    path.write_text(path.read_text() + "# local edit\n")
    again = run_cli("-C", str(tmp_path), "ci", "staging", cwd=REPO)
    assert again.returncode == 2 and "--force" in again.stderr and "local edit" in path.read_text()
