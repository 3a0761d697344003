"""Terminal output shared by every command: consoles, verbosity, phase lines, and the command to suggest.

- Not a terminal (CI logs, pipes): never wrap or truncate. Tree names, check ids, file paths and the
  suggested next command stay on one line each, whatever their length.
- ``-q`` silences progress and notes (errors and the results asked for still print); ``-v`` adds detail.
- Phase lines (``synth 1.8 s``) go to stderr, so ``--json`` on stdout stays machine-readable.
- :func:`prog` is the command that works in the user's shell: ``./dev`` when run through ./dev (which
  sets ``SLM_DEPLOY_PROG``), else ``slm-deploy``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

__all__ = ["console", "esc", "plain", "print_error", "out", "err", "prog", "Verbosity", "phase", "phase_line", "install_progress", "note", "detail",
           "make_console", "plain_help", "unwrapped_help"]

_UNWRAPPED = 100_000  # columns for a non-terminal: lines are never folded, cut or ellipsized


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    # emoji=False: user text (stack values, names) may contain ':name:' codes, never turned into emoji.
    if tty:
        return Console(stderr=stderr, emoji=False)
    return Console(stderr=stderr, width=_UNWRAPPED, soft_wrap=True, emoji=False)


out = make_console()
err = make_console(stderr=True)


class Verbosity:
    level = 0  # -1 quiet, 0 normal, 1 verbose


def prog() -> str:
    """How to call slm-deploy in suggestions: ``./dev`` when ./dev ran us, else ``slm-deploy``."""
    return os.environ.get("SLM_DEPLOY_PROG") or "slm-deploy"


def note(message: str) -> None:
    """A progress or hint line on stderr (suppressed by -q)."""
    if Verbosity.level >= 0:
        err.print(message, highlight=False, markup=False)


def detail(message: str) -> None:
    """Detail for -v only."""
    if Verbosity.level >= 1:
        err.print(message, highlight=False, markup=False)


def phase_line(name: str, seconds: float, what: str = "") -> None:
    """``  synth      1.84 s  52 resources`` on stderr (not with -q)."""
    note(f"  {name:<8} {seconds:6.2f} s  {what}".rstrip())


@contextmanager
def phase(name: str, what: str = "") -> Iterator[dict]:
    """Time one phase and print its line when it ends; the body may set ``info["what"]``."""
    info = {"what": what}
    start = time.perf_counter()
    yield info
    phase_line(name, time.perf_counter() - start, info["what"])


def install_progress() -> None:
    """Let the gate report its phases (validate, checkov, reports) through :func:`phase_line`."""
    from slm_deploy.gate.progress import set_phase_hook

    set_phase_hook(phase_line)


def plain_help() -> None:
    """Help that reads like pulumi/kubectl/helm: ``Usage: slm-deploy preview [OPTIONS] STACK``, valued
    options with their metavar (``--out DIR``), flags with nothing after them.

    Typer 0.2x writes required arguments as ``{stack}`` and a ``<type>`` label after every parameter;
    these display methods are replaced (tests/slm_deploy/test_cli_ux.py checks the result).
    """
    from typer.core import TyperArgument, TyperOption

    def usage_name(self) -> str:
        name = self.display_name_raw.upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    TyperArgument._usage_display_name = usage_name
    TyperArgument.display_type_rich = lambda self, ctx: None
    TyperOption.display_type_rich = lambda self, ctx: self.metavar or (self.name or "value").upper()


def unwrapped_help() -> dict:
    """Click context settings: help is neither wrapped nor cut ("...") when stdout is not a terminal."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    return {} if tty else {"terminal_width": _UNWRAPPED, "max_content_width": _UNWRAPPED}


def console(*, stderr: bool = False) -> Console:
    """A console for one command's output (emoji codes off, like every console here)."""
    return make_console(stderr=stderr)


def esc(value: object) -> str:
    """``value`` as text that rich markup shows literally (user or config-derived text inside markup)."""
    from rich.markup import escape

    return escape(str(value))


def plain(value: object):
    """``value`` as a renderable never parsed for markup or emoji (table cells, tree labels)."""
    from rich.text import Text

    return Text(str(value))


def print_error(target: Console, message: object) -> None:
    """``error: <message>`` on one line; the message is shown literally."""
    from rich.text import Text

    target.print(Text.assemble(("error:", "red"), " ", str(message)), soft_wrap=True)
