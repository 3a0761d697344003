"""``slm-deploy export STACK --format kustomize``: the gated manifests as a kustomization, for GitOps.

The stack is synthesized, rendered and gated first (exactly as ``preview``); a failed gate exits 1 and
writes no export. See docs/ci.md (Argo CD, Flux).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from slm_deploy.console import print_error

__all__ = ["register"]


def export(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="Stack name: stacks/Pulumi.<STACK>.yaml.")],
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="Export format: kustomize.")] = "kustomize",
    out_dir: Annotated[Optional[Path], typer.Option(
        "--out", metavar="DIR", help="Export directory. Default: build/<STACK>.kustomize/.")] = None,
) -> None:
    """Gate STACK, then write its manifests and a kustomization.yaml for Argo CD or Flux."""
    from slm_deploy.commands.stack_ops import build_or_exit
    from slm_deploy.console import err, out, prog
    from slm_deploy.export import FORMATS, ExportError, export_kustomize
    from slm_deploy.gate.summary import print_summary
    from slm_deploy.session import EXIT_BAD_INPUT, EXIT_GATE_FAILED, project_dir

    if fmt not in FORMATS:
        print_error(err, f"--format {fmt}: allowed: {', '.join(FORMATS)}")
        raise typer.Exit(EXIT_BAD_INPUT)
    target = out_dir or project_dir() / "build" / f"{stack}.kustomize"
    with tempfile.TemporaryDirectory(prefix=f"slm-deploy-export-{stack}-") as tmp:
        build = build_or_exit(stack, Path(tmp) / "build")  # synth + render + gate, as preview does
        print_summary(build.gate, err)
        if not build.gate.ok:
            err.print(f"[red]gate failed: no export written for {stack}[/red] (reports: `{prog()} preview {stack}`)",
                      highlight=False)
            raise typer.Exit(EXIT_GATE_FAILED)
        try:
            written = export_kustomize(build.out_dir, target, stack, build.gate.cache_key)
        except ExportError as exc:
            print_error(err, f"{exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(f"Wrote {written} (kustomization.yaml over the gated manifests; Secrets to create: "
              f"{written / 'README.md'})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
