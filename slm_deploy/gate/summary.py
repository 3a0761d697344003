"""Terminal summary of a gate verdict."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from slm_deploy.gate.runner import GateResult

__all__ = ["print_summary"]


def print_summary(result: GateResult, console: Console) -> None:
    if result.failed:
        table = Table("check", "resource", "file", "problem", title=f"Gate: {len(result.failed)} failed")
        for f in result.failed:
            table.add_row(f.check_id, f.resource, f.file, f.check_name + (f": {f.message}" if f.message else ""))
        console.print(table)
        console.print(f"[red bold]Gate FAILED[/red bold] for stack {result.stack}")
    else:
        console.print(f"[green bold]Gate passed[/green bold] for stack {result.stack}: {len(result.passed)} checks passed, 0 failed")
