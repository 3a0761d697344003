"""The cyclic garbage collector paused while the program's imports, the synth and the gate run.

Import-light on purpose (``gc`` and ``contextlib`` only): the entry points wrap their heavy imports in it.
Used by the synth (``slm_deploy/synth.py``), the entry points' imports (``pipeline``, ``program_gate``, the CLI's
build) and the gate (``slm_deploy/gate/runner.py``); :func:`gc_resumed` turns the collector back on inside a
pause for checkov's in-process scans (``slm_deploy/gate/incremental.py``), whose graphs do form cycles.

Why: CPython's cyclic collector runs whenever allocations outnumber deallocations by its gen-0 threshold (700),
and each run of an older generation walks every live container object. Importing the program (pulumi, the
pulumi_kubernetes API modules, the components: ~1 million objects) and synthesizing a 100-service stack (1,430
registrations, each with its Outputs, futures and tasks alive until the program ends) triggered ~900 collections:
measured with ``gc.callbacks`` in one fresh process, 0.25 s CPU of the imports and 1.2-1.4 s CPU of a 4-5 s CPU
synth (scale100; docs/benchmarks.md, issue 17). Nearly everything those phases allocate stays alive until
they end (modules, registrations), so the collections found little: ~92,000 unreachable objects after a whole
synth, 0.3 s to collect once, no measurable change of peak RSS.

What pausing changes: only *when* unreachable reference cycles are freed (at a later full collection, or at
exit), never what is reachable. Objects without cycles are freed by reference counting as
before. Nothing the synth records or renders depends on it.

The end of a pause. Everything allocated during it sits in the youngest generation, so the first collection
afterwards walked all of it (0.5 s CPU after a 100-service synth) and promoted it generation by generation.
Instead, at the end of each pause, what is alive moves to the oldest generation at once (``gc.freeze()`` then
``gc.unfreeze()``: two list splices), where only a full collection looks at it; cycles among it are freed by
the next full collection. That is skipped when something else had frozen objects (``unfreeze`` would release
theirs too), and when the block raised (a failed synth's abandoned tasks are garbage to free soon): then the
pause only ends.

The gate. After a synth, the gate's allocations (35,000 findings read from the caches of a 100-service stack,
judged and reported) set off full collections that walked the synth's whole heap: 0.87-1.11 s CPU of a ~3 s
one-service re-gate. The gate's own objects form no reference cycles to speak of (10 unreachable objects were left
after a 100-service gate), so pausing frees them by reference counting as before.

A *one-shot* process (the ``slm-deploy`` CLI, the program gate's child: :func:`declare_one_shot`) keeps what
is alive frozen instead: the render's and gate's full collections (three, ~0.3 s each, after a 100-service
synth) then skip the program's modules and records. Frozen objects are still freed by reference counting;
only cycles among them (the synth's ~92,000 unreachable objects, a few MB) stay until the process exits.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused", "gc_resumed", "declare_one_shot"]

_one_shot = False
_outer: list[bool] = []
"""Whether the collector was on when each active :func:`gc_paused` began (innermost last)."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block and restore the state it had (nesting is safe); at the end,
    what is alive goes to the oldest generation (one-shot process: is frozen). See the module docstring."""
    was_enabled = gc.isenabled()
    frozen_before = gc.get_freeze_count()
    gc.disable()
    _outer.append(was_enabled)
    try:
        yield
    except BaseException:
        # A failed block (a program that raised) leaves garbage, e.g. its pending tasks: it stays young, so the next
        # collections free it (and asyncio's "Task was destroyed" notes come then, not at some later full pass).
        _outer.pop()
        if was_enabled:
            gc.enable()
        raise
    _outer.pop()
    if _one_shot:
        gc.freeze()
    elif frozen_before == 0:
        gc.freeze()
        gc.unfreeze()
    if was_enabled:
        gc.enable()


@contextlib.contextmanager
def gc_resumed() -> Iterator[None]:
    """Inside :func:`gc_paused`: the collector as it was before the outermost pause (outside one: unchanged)."""
    if not _outer or not _outer[0] or gc.isenabled():
        yield
        return
    gc.enable()
    try:
        yield
    finally:
        gc.disable()


def declare_one_shot() -> None:
    """This process ends after one command (the CLI, the program gate's child): :func:`gc_paused` freezes."""
    global _one_shot
    _one_shot = True

