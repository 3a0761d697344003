"""What the stack commands share: load a stack or exit 2, build (synth -> render -> gate) with phase lines.

Imports session and console only (never the CLI module), so every command module can use it.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import typer

from slm_deploy.console import detail, err, note, phase, print_error, prog
from slm_deploy.session import EXIT_BAD_INPUT, Session, project_dir

__all__ = ["fail_input", "load_or_exit", "build_or_exit", "pulumi_missing", "placeholder_note"]


def pulumi_missing() -> str:
    return ("the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/) "
            f"to use --engine pulumi / up, or run the offline engine: {prog()} preview STACK")


def fail_input(message: str) -> typer.Exit:
    print_error(err, f"{message}")
    return typer.Exit(EXIT_BAD_INPUT)


def load_or_exit(stack: str, *, offline: bool = True, announce: bool = True):
    """The loaded stack, or exit 2 with its located problems. ``offline``: a missing secret (a gated
    model's hfToken) is a placeholder with a note (``announce``: print it now); False (the real engine:
    up, --engine pulumi) an error."""
    from stacks.errors import ConfigError, MissingSecretError
    from stacks.loader import load_stack, secret_setting_lines

    try:
        loaded = load_stack(stack, Session.project_dir, offline=offline)
    except ConfigError as exc:
        for problem in exc.problems:
            print_error(err, f"{problem}")
        if isinstance(exc, MissingSecretError):
            err.print("The real engine (pulumi preview / pulumi up) needs it. Set it once:", highlight=False, markup=False)
            for line in secret_setting_lines(stack, exc.secrets):
                err.print(line, highlight=False, markup=False, soft_wrap=True)
            err.print(f"The offline preview runs without it (a placeholder): {prog()} preview {stack}",
                      highlight=False, markup=False)
        if Session.debug:
            traceback.print_exc()
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if announce:
        placeholder_note(loaded)
    return loaded


def placeholder_note(loaded) -> None:
    """Say which secrets the offline run stood in for, and how to set them for the real engine."""
    from stacks.loader import secret_setting_lines

    if not loaded.placeholder_secrets:
        return
    keys = loaded.placeholder_keys
    for problem in loaded.placeholder_secrets:
        note(f"note: {problem}")
    note(f"note: offline, {', '.join(keys)} is a placeholder (nothing is downloaded or read); the real engine "
         f"(pulumi preview / pulumi up, {prog()} up {loaded.name}) refuses to run without it. Set it once:")
    for line in secret_setting_lines(loaded.name, keys):
        note(line)


def build_or_exit(stack: str, out_dir: Path | None, intro: str = "", *, offline: bool = True):
    """Synthesize, render and gate ``stack`` into ``out_dir`` (default build/<stack>/), one phase line each.

    ``offline``: whether a secret the stack lacks may be a placeholder (see :func:`load_or_exit`)."""
    # Fork the checkov worker first, before this process loads Pulumi or starts any thread:
    # it imports checkov on the second core while this one loads and synthesizes the program.
    from slm_deploy.gate.worker import ScanWorker

    with ScanWorker() as worker:
        from slm_deploy.gc_pause import gc_paused

        with gc_paused():  # the program's imports, ~1 million objects (see slm_deploy/gc_pause.py)
            from slm_deploy.gate import run_gate
            from slm_deploy.pipeline import Build, synth_stack
            from slm_deploy.render import ObjectCollision, OutDirError, render
            from slm_deploy.synth import SynthError
            from slm_deploy.warm import preview_key, record_inputs, unchanged_build

        target = out_dir or project_dir() / "build" / stack
        try:
            loaded = load_or_exit(stack, offline=offline, announce=False)  # bad input: located errors only
            key = preview_key(loaded, target)  # before the build: inputs edited meanwhile miss next time
            from slm_deploy.commands.sizing import stack_sizing_lines

            previous = unchanged_build(loaded, target, key)
            if intro:
                note(intro if previous is None else
                     intro.split(":")[0] + ": unchanged since the last build (cached; nothing re-run)")
            placeholder_note(loaded)
            for line in stack_sizing_lines(loaded.config):  # the plan, also when the build is unchanged
                note(line)
            if previous is not None:
                return previous  # nothing is synthesized, rendered or scanned; the unused worker is killed on exit
            detail(f"stack file stacks/Pulumi.{stack}.yaml: target {loaded.config.target}, "
                   f"namespace {loaded.config.namespace}")
            with phase("synth") as info:
                synth = synth_stack(loaded)
                info["what"] = f"{len(synth.resources)} resources (the Pulumi program under the mock runtime)"
            with phase("render") as info:
                summary = render(synth, target)
                info["what"] = f"-> {target}"
        except SynthError as exc:
            if Session.debug:
                traceback.print_exc()
            raise fail_input(f"stacks/Pulumi.{stack}.yaml: the program failed: {exc}") from None
        except OutDirError as exc:
            raise fail_input(f"--out: {exc}") from None
        except ObjectCollision as exc:
            raise fail_input(f"stacks/Pulumi.{stack}.yaml: two resources would create one object "
                             f"(nothing written): {exc}") from None
        build = Build(stack, target, synth, summary, run_gate(target, stack, worker=worker))
        record_inputs(target, key)
        return build
