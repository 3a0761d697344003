"""Terminal summary of a gate verdict (rich)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from slm_deploy.console import esc, plain
from slm_deploy.gate.result import GateResult

__all__ = ["print_summary"]


def print_summary(result: GateResult, console: Console) -> None:
    checks_run = len({f.check_id for f in result.passed + result.failed} | {w.finding.check_id for w in result.waived})
    cached = " [dim](cached verdict)[/dim]" if result.cached else ""
    if result.failed:
        table = Table("check", "resource", "file", "problem", title=f"Gate: {len(result.failed)} failed", title_justify="left")
        for f in result.failed:
            table.add_row(f.check_id, plain(f.resource), plain(f.file + (f":{f.line}" if f.line else "")),
                          plain(f.check_name + (f": {f.message}" if f.message else "")))
        console.print(table)
    if result.waived:
        counts = Counter((w.finding.check_id, w.by.source, w.by.ident) for w in result.waived)
        table = Table("check", "waived by", "id", "resources", title="Waived", title_justify="left")
        for (cid, source, ident), n in sorted(counts.items()):
            table.add_row(cid, source, plain(ident), str(n))
        console.print(table)
    for w in result.stale_waivers:
        console.print(f"[yellow]stale waiver[/yellow] {esc(w['id'])}: {esc(w['check'])} on {esc(w['resource'])} matches nothing in stack {esc(result.stack)}")
    verdict = "[green bold]Gate passed[/green bold]" if result.ok else "[red bold]Gate FAILED[/red bold]"
    console.print(
        f"{verdict} for stack {result.stack}: {len(result.passed)} passed, {len(result.failed)} failed, "
        f"{len(result.waived)} waived, {len(result.not_applicable)} not applicable, "
        f"{len(result.stale_waivers)} stale waivers; {checks_run} of {len(result.checks) or checks_run} enforced "
        f"checks had something to judge in this stack{cached}"
    )
    from rich.markup import escape

    from slm_deploy.gate.reports import waiver_file_line

    style = "yellow" if (result.waiver_file or {}).get("override") else "dim"
    console.print(f"[{style}]{escape(waiver_file_line(result))}[/{style}]", soft_wrap=True)
    if result.reports:
        console.print("Reports: " + ", ".join(esc(result.reports[k]) for k in ("markdown", "sarif", "junit") if k in result.reports))
