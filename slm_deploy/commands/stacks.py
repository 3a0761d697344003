"""``slm-deploy stacks``: every stack file, its target, and the first error of a broken one.

Exit 0 when every stack file loads; 2 when one does not (after listing them all), so CI can run
``./dev stacks`` as a check of every stack file.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from slm_deploy.console import esc, out, prog
from slm_deploy.session import EXIT_BAD_INPUT, Session

__all__ = ["register", "stack_rows"]


def stack_rows() -> list[dict]:
    """One row per stacks/Pulumi.<name>.yaml: loads it; a broken one carries its first error."""
    from stacks.errors import ConfigError
    from stacks.loader import list_stacks, load_stack

    rows = []
    for name in list_stacks(Session.project_dir):
        row = {"stack": name, "file": f"stacks/Pulumi.{name}.yaml", "ok": True, "target": None, "namespace": None,
               "error": None, "secretsForPulumiUp": []}
        try:
            loaded = load_stack(name, Session.project_dir, offline=True)
            row.update(target=loaded.config.target, namespace=loaded.config.namespace,
                       secretsForPulumiUp=loaded.placeholder_keys)
        except ConfigError as exc:
            first = exc.problems[0] if exc.problems else exc
            row.update(ok=False, error=str(first), problems=len(exc.problems))
        rows.append(row)
    return rows


def stacks(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable list on stdout.")] = False,
) -> None:
    """List every stack (stacks/Pulumi.<name>.yaml) with its target; mark broken ones with their first error.

    Exit 2 when a stack file is broken (all stacks are still listed), so CI can use it as a check.
    """
    rows = stack_rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        table = Table("stack", "target", "namespace", "file", "status")
        for r in rows:
            status = "ok" if r["ok"] else f"[red]BROKEN[/red]: {esc(r['error'])}" + (
                f" (+{r['problems'] - 1} more)" if r.get("problems", 1) > 1 else "")
            if r["secretsForPulumiUp"]:
                status += f" (pulumi up needs the secret {', '.join(r['secretsForPulumiUp'])})"
            table.add_row(r["stack"], r["target"] or "-", r["namespace"] or "-", r["file"], status)
        out.print(table, highlight=False)
        broken = [r["stack"] for r in rows if not r["ok"]]
        if broken:
            out.print(f"{len(broken)} broken: see every problem with `{prog()} preview {broken[0]}`", highlight=False)
    if any(not r["ok"] for r in rows):
        raise typer.Exit(EXIT_BAD_INPUT)


def register(app: typer.Typer) -> None:
    app.command("stacks")(stacks)
