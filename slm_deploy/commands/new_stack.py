"""``slm-deploy new-stack``: scaffold stacks/Pulumi.<name>.yaml from the cookiecutter template."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from slm_deploy.console import err, out, prog, print_error

from slm_deploy.session import EXIT_BAD_INPUT, project_dir

__all__ = ["register", "bake"]

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "stack"


class BakeError(Exception):
    """The template refused the answers (its pre-generation hook printed why)."""


@contextlib.contextmanager
def _stderr_captured(path: Path) -> Iterator[Path]:
    """Send file descriptor 2 (the hook subprocess's stderr) to ``path`` for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield path
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def template_questions() -> dict[str, object]:
    """The template's questions and their defaults (a list means a choice; the first is the default)."""
    questions = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    return {k: v for k, v in questions.items() if not k.startswith("_")}


def _check_answers(answers: dict[str, str]) -> None:
    """Unknown keys and values outside a choice list are bake errors, with what is allowed."""
    questions = template_questions()
    problems = []
    for key, value in answers.items():
        if key not in questions:
            close = difflib.get_close_matches(key, list(questions), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(f"--set {key}: unknown question; {hint}questions: {', '.join(questions)}")
        elif isinstance(questions[key], list) and value not in questions[key]:
            problems.append(f"--set {key}={value}: allowed: {', '.join(map(str, questions[key]))}")
    if problems:
        raise BakeError("; ".join(problems))


def bake(answers: dict[str, str], project_dir: Path, *, no_input: bool = True) -> Path:
    """Render the template with ``answers`` into ``project_dir/stacks``; return the new stack file.

    Refuses to overwrite an existing stack. The caller validates (and gates) the result.
    """
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    _check_answers(answers)
    # An approved opt-out expires: 90 days from the bake (within the waiver file's 180-day horizon).
    answers = {"_opt_out_expires": (date.today() + timedelta(days=90)).isoformat(), **answers}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with _stderr_captured(Path(tmp) / "hook.err") as hook_err:
                generated = Path(cookiecutter(str(TEMPLATE), no_input=no_input, extra_context=answers, output_dir=tmp))
        except FailedHookException:
            # Only the hook's own "error: ..." lines; cookiecutter logs its traceback to stderr as well.
            lines = hook_err.read_text().splitlines()
            reasons = "; ".join(line.removeprefix("error: ") for line in lines if line.startswith("error: "))
            raise BakeError(f"the template refused the answers: {reasons}") from None
        [stack_file] = generated.glob("Pulumi.*.yaml")
        target = project_dir / "stacks" / stack_file.name
        if target.exists():
            raise BakeError(f"{target.relative_to(project_dir)} exists already; choose another stack_name")
        shutil.copyfile(stack_file, target)
    return target


def register(app: typer.Typer) -> None:
    @app.command("new-stack")
    def new_stack(
        values: Annotated[Optional[list[str]], typer.Option("--set", help="Answer a template question: key=value (repeatable).")] = None,
        no_input: Annotated[bool, typer.Option("--no-input", help="Do not prompt; use defaults and --set values.")] = False,
    ) -> None:
        """Scaffold a new stack from templates/stack (cookiecutter), validate it, and say how to preview it."""
        from stacks.loader import load_stack
        from stacks.errors import ConfigError, MissingSecretError

        answers = {}
        for item in values or []:
            key, sep, value = item.partition("=")
            if not sep:
                print_error(err, f"--set {item!r}: expected key=value")
                raise typer.Exit(EXIT_BAD_INPUT)
            answers[key] = value
        root = project_dir()
        try:
            path = bake(answers, root, no_input=no_input)
        except BakeError as exc:
            print_error(err, f"{exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        rel = path.relative_to(root)
        try:
            loaded = load_stack(stack, root)
        except MissingSecretError as exc:
            out.print(f"Wrote {rel}. Before previewing, set its secret(s):", highlight=False)
            for problem in exc.problems:
                out.print(f"  {problem.message}", soft_wrap=True, highlight=False)
            return
        except ConfigError as exc:
            print_error(err, f"{rel} does not validate with these answers; it is kept as a draft to fix:")
            for problem in exc.problems:
                print_error(err, f"{problem}")
            err.print(f"Edit {rel}, then run `{prog()} preview {stack}` (or delete it and run new-stack again).",
                      highlight=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        from slm_deploy.ci_workflow import write_workflow

        try:
            workflow = write_workflow(root, stack, loaded.config.target).relative_to(root)
            wrote_ci = f" and {workflow} (CI: gate on pull requests, pulumi up on main; docs/ci.md)"
        except FileExistsError as exc:
            wrote_ci = f"; CI workflow not written: {exc}"
        from slm_deploy.commands.sizing import stack_sizing_lines

        for line in stack_sizing_lines(loaded.config):
            out.print(line, highlight=False)
        out.print(f"Wrote {rel}{wrote_ci}. Next: {prog()} preview {stack}", highlight=False)
