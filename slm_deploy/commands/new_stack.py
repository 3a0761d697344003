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
    """Unknown keys, questions the kind does not ask, values outside a choice list and multi-line values
    are bake errors, with what is allowed."""
    from slm_deploy.scaffold import KINDS, questions_for

    questions = template_questions()
    kind = answers.get("kind", KINDS[0])
    asked = [q.key for q in questions_for(kind)] if kind in KINDS else list(questions)
    problems = []
    for key, value in answers.items():
        if key not in questions:
            close = difflib.get_close_matches(key, list(questions), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(f"--set {key}: unknown question; {hint}questions: {', '.join(questions)}")
        elif isinstance(questions[key], list) and value not in questions[key]:
            problems.append(f"--set {key}={value}: allowed: {', '.join(map(str, questions[key]))}")
        elif key not in asked:
            problems.append(f"--set {key}: kind {kind} does not use it; its questions: {', '.join(asked)}")
        elif any(ord(c) < 32 for c in value):
            problems.append(f"--set {key}: must be one line of text")
    if problems:
        raise BakeError("; ".join(problems))


def bake(answers: dict[str, str], project_dir: Path, *, no_input: bool = True) -> Path:
    """Render the template with ``answers`` into ``project_dir/stacks``; return the new stack file.

    Refuses to overwrite an existing stack. The caller validates (and gates) the result.
    """
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    from slm_deploy.scaffold import derived_answers

    _check_answers(answers)
    # An approved opt-out expires: 90 days from the bake (within the waiver file's 180-day horizon).
    answers = {"_opt_out_expires": (date.today() + timedelta(days=90)).isoformat(), "_prog": prog(),
               **derived_answers(answers)}
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


_AGAIN = "Change the answers that decide the size (Enter keeps each):"


class _NoAnswer(Exception):
    """Input ended before every question was answered."""


def _prompt(text: str, default: str) -> str:
    import click

    try:
        return click.prompt(text, default=default, show_default=False, err=True).strip()
    except click.exceptions.Abort:
        raise _NoAnswer from None


def _question_text(key: str, answers: dict[str, str], default: str) -> str:
    from slm_deploy.scaffold import BY_KEY, ENGINE, choices_for, shown_default

    text = BY_KEY[key].text
    choices = choices_for(key, answers)
    if choices:
        text += f" ({', '.join(choices)})"
    elif key == "model":
        text += f" ({', '.join(_models_for(ENGINE[answers['kind']]))})"
    return f"{text} [{shown_default(key, default, answers)}]"


def _models_for(engine: str) -> list[str]:
    from components.catalog import list_models

    return [m.id for m in list_models()
            if engine == "vllm" or (engine == "ollama" and m.ollama_tag) or (engine == "onnx" and m.onnx)]


def ask(answers: dict[str, str], root: Path) -> tuple[dict[str, str], object]:
    """Ask the questions the kind uses (``answers`` from --set are taken, not asked, unless they fail a
    check); check each answer at once; from the model answer on, check the fit after every size answer
    (the sizing plan, or what does not fit in the questions' words); show the plan before anything is written.

    Returns the answers and the draft the loader accepted. Raises :class:`_NoAnswer` when input ends.
    """
    from slm_deploy.commands.sizing import stack_sizing_lines
    from slm_deploy.scaffold import KINDS, SIZE_KEYS, answer_problem, default_for, questions_for

    given = dict(answers)
    answers = {}
    asked: set[str] = set()
    suggested: dict[str, str] = {}  # a later size question's default: the answer that would fit
    while True:
        kind = answers.get("kind", given.get("kind", KINDS[0]))
        keys = [q.key for q in questions_for(kind)]
        pending = [k for k in keys if k not in asked]
        if pending:
            key = pending[0]
            if key in given:
                value = given.pop(key)
            else:
                default = suggested.pop(key, None) or default_for(key, answers)
                value = _prompt(_question_text(key, answers, default), default)
            problem, sizing, fit, loaded = answer_problem(key, value, answers, root), [], None, None
            if problem is None and key not in ("stack_name", "kind"):
                trial = {**{k: v for k, v in answers.items() if k in keys}, key: value}
                mine, sizing, loaded, config = _check_draft(trial, kind, asked | {key}, root)
                problem = mine[0] if mine else None
                if problem is None and key in SIZE_KEYS and "model" in asked | {key} and config is not None:
                    fit, problem = _fit_now(kind, config)
            if problem:
                print_error(err, f"{key} = {value!r}: {problem}")
                continue
            answers[key] = value
            asked.add(key)
            if fit is not None:
                _does_not_fit(key, value, fit, config, kind, answers, asked, suggested)
                continue
            if key in SIZE_KEYS and "model" in asked and loaded is not None:
                for line in stack_sizing_lines(loaded.config, "host_memory_gb"):
                    err.print(line, highlight=False, markup=False)
            if key in SIZE_KEYS and sizing:  # every answer that decides the size is in: the verdict is no
                for line in sizing:
                    print_error(err, line)
                err.print(_AGAIN, highlight=False, markup=False)
                asked -= set(SIZE_KEYS)
            continue
        mine, sizing, loaded, config = _check_draft({k: v for k, v in answers.items() if k in keys}, kind, asked,
                                                    root, final=True)
        if not mine and not sizing:
            for line in stack_sizing_lines(loaded.config, "host_memory_gb"):
                err.print(line, highlight=False, markup=False)
            import click

            try:
                if click.confirm(f"Write stacks/Pulumi.{answers['stack_name']}.yaml with this sizing?", default=True,
                                 err=True):
                    return answers, loaded
            except click.exceptions.Abort:
                raise _NoAnswer from None
        else:
            fit, problem = _fit_now(kind, config) if config is not None and sizing else (None, None)
            for line in mine + ([f"does not fit: {fit.problem}" if fit else problem] if fit or problem else sizing):
                print_error(err, line)
        err.print(_AGAIN, highlight=False, markup=False)
        asked -= set(SIZE_KEYS)


def _does_not_fit(key: str, value: str, fit, config: dict, kind: str, answers: dict[str, str], asked: set[str],
                  suggested: dict[str, str]) -> None:
    """An accepted size answer with which the draft does not fit (``fit``: in the questions' words).

    When the size questions still to come can make it fit, a note says so and their fitting answers become
    their defaults. Otherwise it is an error on this answer: asked again when this answer (with those still
    to come) can make it fit, with that answer as the default; else every size question is asked again.
    """
    from slm_deploy.scaffold import SIZE_KEYS, questions_for

    keys = [q.key for q in questions_for(kind)]
    pending = {k for k in keys if k in SIZE_KEYS and k not in asked}
    way = _fitting_answers(kind, config, pending, answers) if pending else None
    if way is not None:
        err.print(f"note: with {_so_far(answers, keys, asked)} and the defaults of the questions to come, it does "
                  f"not fit yet: {fit.problem}", highlight=False, markup=False)
        suggested.update({q: v for q, v in way.items() if q == "quantization"})
        suggested.update({q: v for q, v in fit.answers if q in pending})
        return
    way = _fitting_answers(kind, config, pending | {key}, answers)
    alone = dict(fit.answers).get(key)
    hint = ""
    if alone is None and way is not None and key in way:
        later = " and ".join(q for q in way if q != key)
        hint = f"; or {key} {way[key]}" + (f" with a smaller {later} (asked next)" if later else "")
    print_error(err, f"{key} = {value!r}: does not fit: {fit.problem}{hint}")
    if alone is not None or (way is not None and key in way):
        asked.discard(key)
        suggested[key] = alone if alone is not None else way[key]
        return
    err.print(_AGAIN, highlight=False, markup=False)
    asked.difference_update(SIZE_KEYS)


def _so_far(answers: dict[str, str], keys: list[str], asked: set[str]) -> str:
    from slm_deploy.scaffold import SIZE_KEYS

    return ", ".join(f"{k} {answers[k]}" for k in keys if k in SIZE_KEYS and k in asked and answers.get(k))


def _fitting_answers(kind: str, config: dict, open_questions: set[str], answers: dict[str, str]):
    from slm_deploy.scaffold import ENGINE, choices_for
    from slm_deploy.scaffold_fit import fitting_answers

    return fitting_answers(ENGINE[kind], config, open_questions, choices_for("quantization", answers) or [])


def _fit_now(kind: str, config: dict):
    """(the fit verdict of a draft's config or None, a refused combination's reason or None)."""
    from slm_deploy.scaffold import ENGINE
    from slm_deploy.scaffold_fit import fit_verdict

    try:
        return fit_verdict(ENGINE[kind], config), None
    except (ValueError, KeyError, TypeError) as exc:  # a combination the sizing model refuses (fp8 on a10g)
        return None, str(exc) if isinstance(exc, ValueError) else None


def _check_draft(answers: dict[str, str], kind: str, asked: set[str], root: Path, *,
                 final: bool = False) -> tuple[list[str], list[str], object, dict | None]:
    """The loader's verdict on a draft of ``answers``: (problems about given answers, sizing verdict
    problems, the loaded draft when there are none, the draft's ``config:`` mapping). The template's own hook
    refusing is a given-answer problem."""
    from slm_deploy.scaffold import draft, owned_problems

    try:
        result = draft(answers, bake, root)
    except BakeError as exc:
        return [str(exc)], [], None, None
    mine, sizing = owned_problems(result.problems, kind, asked)
    if final and result.loaded is None and not mine and not sizing:
        sizing = result.problems  # nothing left unasked: every problem is about the answers as a whole
    return [p.message for p in mine], [p.message for p in sizing], result.loaded, result.config


def _fit_in_answers(path: Path, answers: dict[str, str]) -> None:
    """A kept draft that does not fit: the verdict again in the questions' words, with the --set answers that
    would fit (the user typed --set answers, not the stack keys of the draft)."""
    import yaml

    from slm_deploy.scaffold import KINDS

    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    fit, _ = _fit_now(answers.get("kind", KINDS[0]), config)
    if fit is None:
        return
    err.print(f"In your answers: does not fit: {fit.problem}", highlight=False, markup=False)
    if fit.answers:
        sets = " or ".join(f"--set {q}={v}" for q, v in fit.answers)
        err.print(f"Or delete it and run `{prog()} new-stack` again with {sets}.", highlight=False, markup=False)


def _deciding_answers(problem, answers: dict[str, str]) -> str:
    """Which answers fill the key a problem is located at (what the user typed, not the stack-file key)."""
    from slm_deploy.scaffold import ENTRY, KINDS, SIZE_KEYS, questions_for

    kind = answers.get("kind", KINDS[0])
    path = problem.key.split(":", 1)[1] if ":" in problem.key else ""
    if path in ENTRY.values():  # about the whole component: the answers that decide its size
        owners = [q.key for q in questions_for(kind) if q.key in SIZE_KEYS]
    else:
        owners = [q.key for q in questions_for(kind)
                  if any(path == p or path.startswith((p + ".", p + "[")) for p in q.paths_for(kind))]
    shown = [f"{k}={answers[k]}" if k in answers else f"{k} (default)" for k in owners]
    return f" (from your answers: {', '.join(shown)})" if shown else ""


def register(app: typer.Typer) -> None:
    @app.command("new-stack")
    def new_stack(
        values: Annotated[Optional[list[str]], typer.Option("--set", help="Answer a question: key=value (repeatable); it is not asked then.")] = None,
        no_input: Annotated[bool, typer.Option("--no-input", help="Do not prompt; use defaults and --set values.")] = False,
    ) -> None:
        """Scaffold a new stack from templates/stack (cookiecutter): asks only what the kind uses, checks each
        answer at once (the fit from the model answer on, with the sizing plan), writes the stack file and its
        CI workflow."""
        from stacks.loader import load_stack
        from stacks.errors import ConfigError

        from slm_deploy.commands.stack_ops import placeholder_note

        answers = {}
        for item in values or []:
            key, sep, value = item.partition("=")
            if not sep:
                print_error(err, f"--set {item!r}: expected key=value")
                raise typer.Exit(EXIT_BAD_INPUT)
            answers[key] = value
        root = project_dir()
        try:
            _check_answers(answers)
            if not no_input:
                answers, _ = ask(answers, root)
            path = bake(answers, root, no_input=True)
        except BakeError as exc:
            print_error(err, f"{exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except _NoAnswer:
            print_error(err, "input ended before every question was answered; nothing was written "
                             f"(non-interactive: {prog()} new-stack --no-input --set key=value ...)")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        rel = path.relative_to(root)
        try:
            loaded = load_stack(stack, root, offline=True)
        except ConfigError as exc:
            print_error(err, f"{rel} does not validate with these answers; it is kept as a draft to fix:")
            for problem in exc.problems:
                print_error(err, f"{problem}{_deciding_answers(problem, answers)}")
            err.print(f"Edit {rel}, then run `{prog()} preview {stack}` (or delete it and run "
                      f"`{prog()} new-stack` again).", highlight=False, markup=False)
            _fit_in_answers(path, answers)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        from slm_deploy.ci_workflow import write_workflow

        try:
            workflow = write_workflow(root, stack, loaded.config.target).relative_to(root)
            wrote_ci = f" and {workflow} (CI: gate on pull requests, pulumi up on main; docs/ci.md)"
        except FileExistsError as exc:
            wrote_ci = f"; CI workflow not written: {exc}"
        from slm_deploy.commands.sizing import stack_sizing_lines

        if no_input:  # the interactive path showed the verdict before writing
            for line in stack_sizing_lines(loaded.config, "host_memory_gb"):
                out.print(line, highlight=False, markup=False)
        placeholder_note(loaded)
        out.print(f"Wrote {rel}{wrote_ci}. Next: {prog()} preview {stack}", highlight=False, markup=False)
