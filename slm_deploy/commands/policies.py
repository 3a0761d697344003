"""`slm-deploy policies [--json|--markdown]`: every check the gate enforces, for reviewers.

policies/CATALOG.md is the --markdown output (tests/gate keeps it in sync):
``uv run slm-deploy policies --markdown > policies/CATALOG.md``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]


def policies(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable list.")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="The catalog as Markdown (policies/CATALOG.md).")] = False,
) -> None:
    """List every enforced check, built-in and ours: id, name, severity (ours) and rationale."""
    from slm_deploy.gate.catalog import catalog_json, catalog_markdown, enforced_checks

    if as_json and as_markdown:
        Console(stderr=True).print("[red]error:[/red] --json and --markdown: choose one")
        raise typer.Exit(2)
    entries = enforced_checks()
    if as_json:
        sys.stdout.write(catalog_json(entries))
        return
    if as_markdown:
        sys.stdout.write(catalog_markdown(entries))
        return
    table = Table("id", "source", "framework", "severity", "name", title=f"{len(entries)} enforced checks")
    for e in entries:
        table.add_row(e.id, e.source, e.framework, e.severity or "-", e.name)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("policies")(policies)
