"""``slm-deploy``: offline preview, gate and hand-over to Pulumi.

Exit codes: 0 ok, 1 gate failed, 2 bad input (config, arguments, missing tool).
Global flags (``--debug``, ``-q``, ``-v``) work before or after the command: ``slm-deploy preview prod --debug``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from slm_deploy.commands import benchmarks, ci, export, gate, new_stack, policies, preview, schema, sizing, stacks
from slm_deploy.console import Verbosity, install_progress, plain_help, unwrapped_help
from slm_deploy.session import Session

__all__ = ["app", "main", "GLOBAL_FLAGS"]

plain_help()
app = typer.Typer(
    name="slm-deploy",
    help="Deploy small language models as code: offline preview, policy gate, Pulumi hand-over.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], **unwrapped_help()},
)

GLOBAL_FLAGS = ("--debug", "-q", "--quiet", "-v", "--verbose")


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("slm-deploy")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed by uv sync
        return "0+unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"slm-deploy {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors (also after the command).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results and errors: no phase lines or notes.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr.")] = False,
    project_dir: Annotated[Optional[Path], typer.Option(
        "--project-dir", "-C", metavar="DIR", help="Directory holding Pulumi.yaml and stacks/. Default: this checkout.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    Session.debug = debug
    Session.project_dir = project_dir
    Verbosity.level = -1 if quiet else (1 if verbose else 0)
    install_progress()


# Commands live in their own modules (slm_deploy/commands/); each keeps heavy imports inside its body.
for _module in (stacks, preview, sizing, policies, gate, new_stack, ci, export, schema, benchmarks):
    _module.register(app)


def hoist_global_flags(argv: list[str]) -> list[str]:
    """``preview prod --debug`` -> ``--debug preview prod``: global flags are accepted after the command too
    (up to a ``--``)."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in GLOBAL_FLAGS]
    rest = [a for a in argv[:end] if a not in GLOBAL_FLAGS]
    return flags + rest + argv[end:]


def main() -> None:
    from slm_deploy.gc_pause import declare_one_shot

    declare_one_shot()  # one command per process: see slm_deploy/gc_pause.py
    try:
        app(args=hoist_global_flags(sys.argv[1:]), prog_name="slm-deploy")
    except KeyboardInterrupt:
        sys.exit(130)
