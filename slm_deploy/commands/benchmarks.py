"""``slm-deploy benchmarks STACK``: measured vs predicted, from the benchmark Jobs of the deployed stack.

The benchmark Job (``benchmark: {}``, docs/lifecycle.md) writes its report into ConfigMap
``<service>-benchmark``; the component reads it back after the Job and exports it as the stack output
``benchmarks.<service>``. This command reads that output through the Automation API (the Pulumi CLI must
be on PATH; offline there is nothing deployed to measure).
"""

from __future__ import annotations

import json
import shutil
from typing import Annotated, Any

import typer
from rich.table import Table

from slm_deploy.console import console, plain, print_error, prog
from slm_deploy.session import EXIT_BAD_INPUT, project_dir

__all__ = ["register", "report_table", "PULUMI_NEEDED"]

PULUMI_NEEDED = ("benchmarks are read from the deployed stack's outputs and the pulumi CLI is not on PATH: install it "
                 "(https://www.pulumi.com/docs/iac/download-install/), or read ConfigMap <service>-benchmark "
                 "(key result.json) with kubectl")

_ROWS = (
    ("TTFT p50 (ms)", "ttftP50Ms"), ("TTFT p95 (ms)", "ttftP95Ms"), ("ITL p50 (ms)", "itlP50Ms"),
    ("ITL p95 (ms)", "itlP95Ms"), ("output tokens/s", "outputTokensPerSecond"),
    ("requests/s", "requestsPerSecond"), ("peak concurrent requests", "peakConcurrentRequests"),
)


def _num(value: Any) -> str:
    return f"{value:,.1f}" if isinstance(value, (int, float)) else "-"


def report_table(service: str, report: dict | None) -> Table:
    """One service's report as a table: metric, measured, predicted, measured/predicted."""
    table = Table(title=plain(f"{service}: measured vs predicted"), title_justify="left")
    for col in ("metric", "measured", "predicted", "measured / predicted"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    if not report:
        table.add_row("no result yet (the benchmark Job has not written one)", "-", "-", "-")
        return table
    measured, predicted, ratio = report.get("measured", {}), report.get("predicted", {}), report.get("measuredOverPredicted", {})
    for label, key in _ROWS:
        table.add_row(label, _num(measured.get(key)), _num(predicted.get(key)),
                      f"{ratio[key]:.2f}" if key in ratio else "-")
    table.add_row("failed requests", str(report.get("failedRequests", "-")), "0", "-")
    return table


def register(app: typer.Typer) -> None:
    @app.command("benchmarks")
    def benchmarks(
        stack: Annotated[str, typer.Argument(help="Stack name: stacks/Pulumi.<STACK>.yaml")],
        as_json: Annotated[bool, typer.Option("--json", help="The reports as JSON.")] = False,
    ) -> None:
        """Print the last benchmark of each vLLM service of STACK: measured TTFT/ITL/throughput vs sizing's prediction."""
        err = console(stderr=True)
        from stacks.loader import list_stacks

        root = project_dir()
        if stack not in list_stacks(root):
            print_error(err, f"no such stack file: stacks/Pulumi.{stack}.yaml")
            raise typer.Exit(EXIT_BAD_INPUT)
        if not shutil.which("pulumi"):
            print_error(err, PULUMI_NEEDED)
            raise typer.Exit(EXIT_BAD_INPUT)
        from pulumi import automation as auto

        outputs = auto.select_stack(stack_name=stack, work_dir=str(root)).outputs()
        reports = outputs["benchmarks"].value if "benchmarks" in outputs else None
        if not reports:
            print_error(err, f"stack {stack} has no benchmark output: set `benchmark: {{}}` in stacks/Pulumi.{stack}.yaml "
                        f"and run `{prog()} up {stack}`")
            raise typer.Exit(EXIT_BAD_INPUT)
        if as_json:
            typer.echo(json.dumps(reports, indent=2, sort_keys=True))
            return
        out = console()
        for service, report in sorted(reports.items()):
            out.print(report_table(service, report))
