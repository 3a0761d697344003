"""`slm-deploy policies [--json|--markdown|--pack DIR]`: every check the gate enforces, for reviewers.

policies/CATALOG.md is the --markdown output (tests/gate keeps it in sync):
``./dev policies --markdown > policies/CATALOG.md``. ``--pack DIR`` assembles the
self-contained CrossGuard pack for ``pulumi policy publish`` (policies/crossguard/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from slm_deploy.console import err, out, print_error
from rich.table import Table

__all__ = ["register"]


def policies(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable list.")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="The catalog as Markdown (policies/CATALOG.md).")] = False,
    pack: Annotated[Path | None, typer.Option(
        "--pack", metavar="OUT_DIR",
        help="Assemble the self-contained CrossGuard pack (pack files + vendored rules) in OUT_DIR, for "
             "`pulumi policy publish` / `pulumi preview --policy-pack OUT_DIR`.")] = None,
) -> None:
    """List every enforced check, built-in and ours: id, name, severity (ours) and rationale."""
    if sum(map(bool, (as_json, as_markdown, pack))) > 1:
        print_error(err, "--json, --markdown and --pack: choose one")
        raise typer.Exit(2)
    if pack is not None:
        from slm_deploy.gate.pack import build_pack

        try:
            build_pack(pack)
        except (OSError, ValueError) as exc:
            print_error(err, exc)
            raise typer.Exit(2) from None
        err.print(f"Wrote the CrossGuard pack to {pack}: cd {pack} && pulumi policy publish <org>")
        return

    from slm_deploy.gate.catalog import catalog_json, catalog_markdown, enforced_checks

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
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("policies")(policies)
