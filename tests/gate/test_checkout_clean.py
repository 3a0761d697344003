"""A gate run writes nothing into the project it judges (CI checks the same on the real checkout: .ci/run).

Both tests work on a copy of the project under tmp_path, never on the checkout itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

_PROJECT_PARTS = ("Pulumi.yaml", "__main__.py", "components", "policies", "slm_deploy", "stacks", "templates")


def _copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for part in _PROJECT_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _env(tmp_path: Path, project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SLM_DEPLOY_PROG")}
    return env | {"PYTHONPATH": str(project), "SLM_DEPLOY_CACHE_DIR": str(tmp_path / "cache"),
                  "SLM_DEPLOY_BUILD_ROOT": str(tmp_path / "build-root"), **extra}


def test_loading_our_checkov_checks_writes_no_bytecode_next_to_them(tmp_path: Path):
    """checkov execs policies/checks/*.py through the import system; even where the environment allows
    bytecode, none lands in the project's policies/checks/."""
    project = _copy_project(tmp_path / "project")
    checks = project / "policies" / "checks"
    code = ("import sys; from pathlib import Path; from slm_deploy.gate import scan; "
            "c = scan.check_catalog(Path(sys.argv[1])); print(len(c['builtins']), scan.__file__)")
    proc = subprocess.run([sys.executable, "-c", code, str(checks)], cwd=tmp_path, env=_env(tmp_path, project),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[1].startswith(str(project)), "the copy's gate code must be the one under test"
    assert int(proc.stdout.split()[0]) > 100, proc.stdout
    written = sorted(p.relative_to(project).as_posix() for p in checks.rglob("__pycache__"))
    assert written == [], f"bytecode written into the project's checks: {written}"


def test_a_cold_preview_leaves_the_project_untouched(tmp_path: Path):
    """`slm-deploy preview` with no cache (synth, render, the checkov worker, every report) run the way CI runs
    the suite (PYTHONDONTWRITEBYTECODE=1): not one file appears or disappears in the project."""
    project = _copy_project(tmp_path / "project")
    before = _files(project)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "slm_deploy", "-C", str(project), "preview", "dev", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env=_env(tmp_path, project, PYTHONDONTWRITEBYTECODE="1", SLM_DEPLOY_NO_CACHE="1"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (out / "gate" / "report.md").is_file()
    assert _files(project) == before, f"new in the project: {sorted(_files(project) - before)}"
