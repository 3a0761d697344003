"""What every CLI command shares: the exit codes and the options of the current invocation.

The CLI (slm_deploy/cli.py) sets the options; the command modules (slm_deploy/commands/) read them.
Both import this module, never each other the other way round.
"""

from __future__ import annotations

from pathlib import Path

from slm_deploy.paths import project_root

__all__ = ["EXIT_OK", "EXIT_GATE_FAILED", "EXIT_BAD_INPUT", "Session", "project_dir"]

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class Session:
    """Global options of this invocation (``--debug``, ``--project-dir``)."""

    debug = False
    project_dir: Path | None = None


def project_dir() -> Path:
    """The project in use: ``--project-dir`` or this checkout."""
    return Session.project_dir or project_root()
