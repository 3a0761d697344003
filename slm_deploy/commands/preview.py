"""``slm-deploy preview STACK`` (offline synth + gate, or hand-over to Pulumi) and ``slm-deploy up STACK``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from slm_deploy.commands.stack_ops import build_or_exit, fail_input, pulumi_missing
from slm_deploy.console import err, out
from slm_deploy.session import EXIT_GATE_FAILED, EXIT_OK, project_dir

__all__ = ["register"]

ENGINES = ("offline", "pulumi")


def _print_build(build, as_json: bool) -> None:
    from slm_deploy.gate.summary import print_summary
    from slm_deploy.tree import kind_counts, resource_tree

    counts = kind_counts(build.synth)
    if as_json:
        payload = {
            "stack": build.stack,
            "outDir": str(build.out_dir),
            "resources": [{"type": r.type, "name": r.name, "parent": r.parent} for r in build.synth.resources],
            "counts": dict(sorted(counts.items())),
            "gate": {"ok": build.gate.ok, "failed": [f.__dict__ for f in build.gate.failed]},
            "unchanged": build.unchanged,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    if build.unchanged:
        out.print(f"[bold]unchanged[/bold]: stack {build.stack} has the same inputs as the build in {build.out_dir} "
                  "(no synth, render or scan); its gate verdict is reused", highlight=False)
    out.print(resource_tree(build.synth))
    out.print("Resources: " + ", ".join(f"[green]+ {n}[/green] {k}" for k, n in sorted(counts.items())) + " to create")
    print_summary(build.gate, out)
    out.print(f"Wrote {build.out_dir}", highlight=False)


def preview(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="Stack name: stacks/Pulumi.<STACK>.yaml.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", metavar="DIR",
                                                    help="Build directory. Default: build/<STACK>/.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary on stdout.")] = False,
    engine: Annotated[str, typer.Option("--engine", metavar="ENGINE",
                                        help="offline (Pulumi's mock runtime; the default) or pulumi (the Pulumi "
                                             "CLI, through the Automation API, after the gate passes).")] = "offline",
) -> None:
    """Synthesize STACK offline, print the resource tree, run the gate and write build/<STACK>/."""
    if engine not in ENGINES:
        raise fail_input(f"--engine {engine!r}: allowed are {', '.join(ENGINES)}")
    if engine == "pulumi" and not shutil.which("pulumi"):
        raise fail_input(pulumi_missing())
    # The real engine needs every secret the stack uses; offline, a missing one is a placeholder (with a note).
    build = build_or_exit(stack, out_dir, f"Previewing stack {stack} offline: synth, render, validate, checkov, reports",
                          offline=engine == "offline")
    _print_build(build, as_json)
    if not build.gate.ok:
        raise typer.Exit(EXIT_GATE_FAILED)
    if engine == "pulumi":
        _automation(stack, "preview")


def up(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="Stack name: stacks/Pulumi.<STACK>.yaml.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Gate STACK offline, then deploy it with the Pulumi CLI (Automation API). Refuses on a failed gate."""
    if not shutil.which("pulumi"):
        raise fail_input(pulumi_missing())
    build = build_or_exit(stack, None, f"Gating stack {stack} before deploying it: synth, render, validate, checkov, reports",
                          offline=False)
    _print_build(build, False)
    if not build.gate.ok:
        err.print("[red]gate failed: refusing to deploy[/red]")
        raise typer.Exit(EXIT_GATE_FAILED)
    if not yes and not typer.confirm(f"Deploy stack {stack}?"):
        raise typer.Exit(EXIT_OK)
    _automation(stack, "up")


def _automation(stack: str, action: str) -> None:
    from pulumi import automation as auto

    workspace_stack = auto.create_or_select_stack(stack_name=stack, work_dir=str(project_dir()))
    run = workspace_stack.preview if action == "preview" else workspace_stack.up
    run(on_output=print)


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
    app.command("up")(up)
