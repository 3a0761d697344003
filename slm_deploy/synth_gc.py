"""The cyclic garbage collector paused while the synth and its imports run.

Import-light on purpose (``gc`` and ``contextlib`` only): the entry points wrap their heavy imports in it.

Why: CPython's cyclic collector runs whenever allocations outnumber deallocations by its gen-0 threshold (700),
and each run of an older generation walks every live container object. Importing the program (pulumi, the
pulumi_kubernetes API modules, the components: ~1 million objects) and synthesizing a 100-service stack (1,430
registrations, each with its Outputs, futures and tasks alive until the program ends) triggered ~900 collections:
measured with ``gc.callbacks`` in one fresh process, 0.25 s CPU of the imports and 1.2-1.4 s CPU of a 4-5 s CPU
synth (scale100; docs/benchmarks.md, issue 17). Nearly everything those phases allocate stays alive until
they end (modules, registrations), so the collections found little: ~92,000 unreachable objects after a whole
synth, 0.3 s to collect once, no measurable change of peak RSS.

What pausing changes: only *when* unreachable reference cycles are freed (at the next collection after the
pause, or at exit), never what is reachable. Objects without cycles are freed by reference counting as
before. Nothing the synth records or renders depends on it.

After the synth, the render and the gate still allocate: their collections walked the whole heap again (three
full collections, ~0.3 s each, plus 0.3 s for the first collection after the pause, in the same measurement).
A *one-shot* process (the ``slm-deploy`` CLI, the program gate's child: :func:`declare_one_shot`) therefore
freezes everything alive at the end of each pause, before the collector is back on (``gc.freeze()``; else its
first run walks everything allocated during the pause): later collections skip those objects. Frozen objects are still freed by reference counting; only cycles among them
(the synth's ~92,000 unreachable objects, a few MB) stay until the process exits, minutes at most. A
long-running process (the test suite, a user's script) never freezes: it did not declare itself one-shot.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused", "declare_one_shot"]

_one_shot = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore the state it had (nesting is safe). In a one-shot
    process, freeze what is alive at the end of the block."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _one_shot:
            gc.freeze()
        if was_enabled:
            gc.enable()


def declare_one_shot() -> None:
    """This process ends after one command (the CLI, the program gate's child): :func:`gc_paused` freezes."""
    global _one_shot
    _one_shot = True

