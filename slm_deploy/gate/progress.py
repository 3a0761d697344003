"""Phase hook for the gate: the CLI prints ``validate``, ``checkov`` and ``reports`` lines with durations.

The gate itself prints nothing: a caller (slm_deploy.console) installs ``hook(name, seconds, what)`` with
:func:`set_phase_hook`; without one, reporting a phase does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["phase", "phase_done", "set_phase_hook"]

_HOOK: Callable[[str, float, str], None] | None = None


def set_phase_hook(hook: Callable[[str, float, str], None] | None) -> None:
    global _HOOK
    _HOOK = hook


def phase_done(name: str, since: float, what: str = "") -> None:
    """Report a phase that started at ``since`` (``time.perf_counter()``) and ends now."""
    if _HOOK is not None:
        _HOOK(name, time.perf_counter() - since, what)


@contextmanager
def phase(name: str) -> Iterator[dict[str, Any]]:
    """``with phase("reports") as info: ...``; ``info["what"]`` may say what the phase produced."""
    info: dict[str, Any] = {"what": ""}
    start = time.perf_counter()
    yield info
    phase_done(name, start, info["what"])
