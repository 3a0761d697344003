"""`slm-deploy benchmarks STACK`: reads the stack output through the Automation API, or says in one line why not."""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.run_cli import run_cli

REPORT = {
    "model": "phi4-mini", "failedRequests": 0,
    "measured": {"ttftP50Ms": 290.5, "ttftP95Ms": 402.0, "itlP50Ms": 50.0, "outputTokensPerSecond": 196.4,
                 "peakConcurrentRequests": 11},
    "predicted": {"itlP50Ms": 25.0, "outputTokensPerSecond": 440.0, "peakConcurrentRequests": 11},
    "measuredOverPredicted": {"itlP50Ms": 2.0, "outputTokensPerSecond": 0.446, "peakConcurrentRequests": 1.0},
}


def test_without_the_pulumi_cli_it_explains_in_one_line_and_exits_2():
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "slm_deploy", "benchmarks", "staging"], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)  # a real process: what a shell sees
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "the pulumi CLI is not on PATH" in lines[0] and "<service>-benchmark" in lines[0]


def test_unknown_stack_exits_2():
    proc = run_cli("benchmarks", "nope", cwd=REPO)  # in this process (tests/run_cli.py)
    assert proc.returncode == 2 and "no such stack file: stacks/Pulumi.nope.yaml" in proc.stderr


def test_reads_the_stack_output_through_the_automation_api(monkeypatch):
    """The command's Automation API path, with the workspace stack standing in for a deployed one."""
    from pulumi import automation as auto

    from slm_deploy import cli
    from slm_deploy.commands import benchmarks

    seen = {}

    class Deployed:
        def outputs(self):
            return {"benchmarks": auto.OutputValue(value={"phi4-mini": REPORT}, secret=False)}

    def select_stack(stack_name, work_dir):
        seen.update(stack=stack_name, work_dir=work_dir)
        return Deployed()

    monkeypatch.setattr(benchmarks.shutil, "which", lambda name: "/usr/local/bin/pulumi" if name == "pulumi" else None)
    monkeypatch.setattr(auto, "select_stack", select_stack)
    result = CliRunner().invoke(cli.app, ["benchmarks", "staging"])
    assert result.exit_code == 0, result.output
    assert seen == {"stack": "staging", "work_dir": str(REPO)}
    assert "phi4-mini: measured vs predicted" in result.output
    row = next(line for line in result.output.splitlines() if "ITL p50" in line)
    assert "50.0" in row and "25.0" in row and "2.00" in row
    result = CliRunner().invoke(cli.app, ["benchmarks", "staging", "--json"])
    assert '"ttftP95Ms": 402.0' in result.output


def test_a_service_without_a_result_yet_says_so():
    from slm_deploy.commands.benchmarks import report_table

    console = Console(record=True, width=120)
    console.print(report_table("qwen", None))
    assert "no result yet" in console.export_text()
