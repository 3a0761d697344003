"""``slm-deploy``: offline preview, gate and hand-over to Pulumi.

Exit codes: 0 ok, 1 gate failed, 2 bad input (config, arguments, missing tool).
"""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from slm_deploy.commands import gate, new_stack, policies, schema, sizing
from slm_deploy.session import EXIT_BAD_INPUT, EXIT_GATE_FAILED, EXIT_OK, Session, project_dir
from stacks.errors import ConfigError

__all__ = ["app", "main"]

app = typer.Typer(
    name="slm-deploy",
    help="Deploy small language models as code: offline preview, policy gate, Pulumi hand-over.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

PULUMI_MISSING = (
    "the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/) "
    "to use --engine pulumi / up, or run the offline engine: slm-deploy preview STACK"
)


def _fail_input(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _load(stack: str):
    from stacks.loader import load_stack

    try:
        return load_stack(stack, Session.project_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True, markup=True)
        if Session.debug:
            traceback.print_exc()
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    project_dir: Annotated[
        Optional[Path], typer.Option("--project-dir", "-C", help="Directory holding Pulumi.yaml and stacks/. Default: this checkout.")
    ] = None,
) -> None:
    Session.debug = debug
    Session.project_dir = project_dir


@app.command()
def stacks() -> None:
    """List the stacks (stacks/Pulumi.<name>.yaml) with their targets."""
    from stacks.loader import list_stacks

    table = Table("stack", "target", "namespace", "file")
    for name in list_stacks(Session.project_dir):
        loaded = _load(name)
        table.add_row(name, loaded.config.target, loaded.config.namespace, f"stacks/Pulumi.{name}.yaml")
    out.print(table)


def _build(stack: str, out_dir: Path | None):
    # Fork the checkov worker first, before this process loads Pulumi or starts any thread:
    # it imports checkov on the second core while this one loads and synthesizes the program.
    from slm_deploy.gate.worker import ScanWorker

    with ScanWorker() as worker:
        from slm_deploy.warm import preview_key, record_inputs, unchanged_build

        loaded = _load(stack)
        target = out_dir or project_dir() / "build" / stack
        key = preview_key(loaded, target)  # before the build: inputs edited meanwhile miss next time
        previous = unchanged_build(loaded, target, key)
        if previous is not None:
            return previous  # Pulumi is never imported; the unused worker is killed on exit

        from slm_deploy.pipeline import build_stack
        from slm_deploy.render import OutDirError
        from slm_deploy.synth import SynthError

        try:
            build = build_stack(loaded, target, worker=worker)
            record_inputs(target, key)
            return build
        except SynthError as exc:
            if Session.debug:
                traceback.print_exc()
            raise _fail_input(f"stacks/Pulumi.{stack}.yaml: the program failed: {exc}") from None
        except OutDirError as exc:
            raise _fail_input(f"--out: {exc}") from None


def _print_build(build, as_json: bool) -> None:
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
        out.print_json(json.dumps(payload))
        return
    if build.unchanged:
        out.print(f"[bold]unchanged[/bold]: stack {build.stack} has the same inputs as the build in {build.out_dir} "
                  "(no synth, render or scan); its gate verdict is reused")
    out.print(resource_tree(build.synth))
    out.print("Resources: " + ", ".join(f"[green]+ {n}[/green] {k}" for k, n in sorted(counts.items())) + " to create")
    from slm_deploy.gate.summary import print_summary

    print_summary(build.gate, out)
    out.print(f"Wrote {build.out_dir}")


@app.command()
def preview(
    stack: Annotated[str, typer.Argument(help="Stack name: stacks/Pulumi.<STACK>.yaml")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Build directory. Default build/<STACK>.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary on stdout.")] = False,
    engine: Annotated[str, typer.Option(help="offline (mock runtime, default) or pulumi (Automation API).")] = "offline",
) -> None:
    """Synthesize STACK offline, print the resource tree, run the gate and write build/<STACK>/."""
    if engine not in ("offline", "pulumi"):
        raise _fail_input(f"--engine {engine!r}: allowed are offline, pulumi")
    if engine == "pulumi" and not shutil.which("pulumi"):
        raise _fail_input(PULUMI_MISSING)
    build = _build(stack, out_dir)
    _print_build(build, as_json)
    if not build.gate.ok:
        raise typer.Exit(EXIT_GATE_FAILED)
    if engine == "pulumi":
        _automation(stack, "preview")


@app.command()
def up(
    stack: Annotated[str, typer.Argument(help="Stack name: stacks/Pulumi.<STACK>.yaml")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Gate STACK offline, then deploy it with the Pulumi CLI (Automation API). Refuses on a failed gate."""
    if not shutil.which("pulumi"):
        raise _fail_input(PULUMI_MISSING)
    build = _build(stack, None)
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


# Commands that live in their own modules; each keeps heavy imports inside its command body.
for _module in (sizing, policies, gate, new_stack, schema):
    _module.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
