"""Python's cyclic garbage collector paused while the gate runs (:func:`paused`), back on for checkov in-process
(:func:`resumed`).

The gate allocates hundreds of thousands of objects (a 100-service stack: 35,000 results read from the caches,
judged and reported), which triggers the collector's full passes, and each full pass walks every object of the
process: after a synth, the program's whole heap. In the one-service re-gate of a 100-service stack (after its
synth, as ``slm-deploy preview`` and the program gate run it) that was 0.8-1.1 s CPU of a ~3 s gate part. The gate's
own objects form no reference cycles to speak of (10 unreachable objects were left after that gate), so they are
freed by reference counting as before. checkov's do (its graphs), so a scan that runs in this process instead of the
prewarmed worker runs with the collector as the caller had it. Cycles made elsewhere while the gate runs are
collected once it is back on.

The synth has its own pause (``slm_deploy/synth_gc.py``, which also freezes the program's heap in one-shot
processes); this one differs in what the gate needs: it never freezes, and :func:`resumed` turns the collector back
on for checkov's in-process scans.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused", "resumed"]

_outer: list[bool] = []
"""Whether the collector was on when each active :func:`paused` began (innermost last)."""


@contextmanager
def paused() -> Iterator[None]:
    """The collector off inside, restored to its state on entry afterwards (also on an exception)."""
    _outer.append(gc.isenabled())
    gc.disable()
    try:
        yield
    finally:
        if _outer.pop():
            gc.enable()


@contextmanager
def resumed() -> Iterator[None]:
    """Inside :func:`paused`: the collector as it was before the outermost pause (outside one: unchanged)."""
    if not _outer or not _outer[0] or gc.isenabled():
        yield
        return
    gc.enable()
    try:
        yield
    finally:
        gc.disable()
