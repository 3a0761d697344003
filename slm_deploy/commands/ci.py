"""``slm-deploy ci STACK``: write .github/workflows/slm-deploy-<STACK>.yml for an existing stack.

``new-stack`` writes the same file for the stack it creates. See docs/ci.md.
"""

from __future__ import annotations

from typing import Annotated

import typer

from slm_deploy.console import print_error

__all__ = ["register", "write_for_stack"]


def write_for_stack(stack: str, *, force: bool = False) -> str:
    """Load the stack (its target decides the deploy step) and write its workflow; return the path."""
    from slm_deploy.ci_workflow import write_workflow
    from slm_deploy.commands.stack_ops import load_or_exit
    from slm_deploy.session import project_dir

    loaded = load_or_exit(stack)
    root = project_dir()
    return str(write_workflow(root, stack, loaded.config.target, force=force).relative_to(root))


def ci(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="Stack name: stacks/Pulumi.<STACK>.yaml.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing workflow that differs.")] = False,
) -> None:
    """Write a GitHub Actions workflow for STACK: gate on pull requests, `pulumi up` on main behind an environment."""
    from slm_deploy.console import err, out, prog
    from slm_deploy.session import EXIT_BAD_INPUT

    try:
        path = write_for_stack(stack, force=force)
    except FileExistsError as exc:
        print_error(err, f"{exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(f"Wrote {path}. Create the GitHub environment slm-deploy-{stack} with required reviewers and its "
              f"secrets (see the file's header and docs/ci.md); preview it locally with: {prog()} preview {stack}",
              highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ci")(ci)
