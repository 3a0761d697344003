"""`slm-deploy gate STACK`: re-gate an already rendered build/<STACK>/ (no synth).

An unchanged stack hits the verdict cache and never imports checkov. Exit 0 passed, 1 failed,
2 when there is nothing rendered to gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from slm_deploy.session import project_dir

__all__ = ["register"]


def gate(
    stack: Annotated[str, typer.Argument(help="Stack name; gates build/<STACK>/ as rendered by `preview`.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Build directory. Default build/<STACK>.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore (and do not write) the verdict cache.")] = False,
) -> None:
    """Gate the rendered build directory of STACK and write its reports."""
    from slm_deploy.gate import run_gate
    from slm_deploy.gate.summary import print_summary

    build_dir = out_dir or project_dir() / "build" / stack
    if not (build_dir / "resources.json").exists():
        Console(stderr=True).print(f"[red]error:[/red] {build_dir} is not a rendered build: run `slm-deploy preview {stack}` first")
        raise typer.Exit(2)
    result = run_gate(build_dir, stack, use_cache=False if no_cache else None)
    print_summary(result, Console())
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)
