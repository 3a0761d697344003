"""The ``slm-deploy`` CLI in the test's own process, answering like ``subprocess.run`` (not a test module).

A fresh ``python -m slm_deploy`` pays ~2 s of imports (typer, pydantic, Pulumi, the components) before it does
anything, and the suite ran dozens of them. Tests about what a command *does* (its output, exit code, files) call
:func:`run_cli`: the same ``app`` with the same argument handling as ``slm_deploy.cli.main`` (global flags hoisted),
stdout and stderr captured apart, the exit code as ``returncode``. The process boundary itself (the console script,
exit codes seen by a shell, no traceback on bad input, ``--debug`` tracebacks, ``--version``) keeps its own
subprocess tests: tests/slm_deploy/test_cli.py and test_cli_ux.py, marked there.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_cli"]


def run_cli(*args: str, env: Mapping[str, str | None] | None = None, cwd: Path | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``slm-deploy *args`` in this process. ``env``: variables to set for the call (``None`` unsets one),
    on top of this process's environment, restored afterwards; ``cwd``: the working directory during the call.

    An exception the CLI does not turn into an exit code is raised here (with its traceback), as it would end a
    real run with one."""
    from typer.testing import CliRunner

    from slm_deploy.cli import app, hoist_global_flags
    from slm_deploy.console import Verbosity
    from slm_deploy.session import Session

    argv = hoist_global_flags(list(args))
    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        result = CliRunner().invoke(app, argv, env=dict(env or {}), input=input, prog_name="slm-deploy")
    # The root callback sets these on every call; reset them so nothing leaks into the next in-process test.
    Session.debug, Session.project_dir, Verbosity.level = False, None, 0
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["slm-deploy", *args], result.exit_code, result.stdout, result.stderr)

