"""`slm-deploy gate STACK`: re-gate an already rendered build/<STACK>/ (no synth).

An unchanged stack hits the verdict cache and never imports checkov. Exit 0 passed, 1 failed,
2 when there is nothing rendered to gate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from slm_deploy.console import detail, err, out, prog, print_error
from slm_deploy.session import EXIT_BAD_INPUT, EXIT_GATE_FAILED, project_dir

__all__ = ["register"]


def gate(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="Stack name; gates build/<STACK>/ as rendered by `preview`.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", metavar="DIR", help="Build directory. Default: build/<STACK>/.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore (and do not write) the verdict cache.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable verdict on stdout (verdict.json's shape).")] = False,
) -> None:
    """Gate the rendered build directory of STACK and write its reports."""
    from slm_deploy.gate import run_gate
    from slm_deploy.gate.summary import print_summary

    build_dir = out_dir or project_dir() / "build" / stack
    if not (build_dir / "resources.json").exists():
        print_error(err, f"{build_dir} is not a rendered build: run `{prog()} preview {stack}` first")
        raise typer.Exit(EXIT_BAD_INPUT)
    result = run_gate(build_dir, stack, use_cache=False if no_cache else None)
    detail(f"verdict cache key {result.cache_key} ({'cached' if result.cached else 'evaluated now'})")
    if as_json:
        typer.echo(json.dumps(json.loads(Path(result.reports["verdict"]).read_text()) | {"reports": result.reports},
                              indent=2, sort_keys=True))
    else:
        print_summary(result, out)
    if not result.ok:
        raise typer.Exit(EXIT_GATE_FAILED)


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)
