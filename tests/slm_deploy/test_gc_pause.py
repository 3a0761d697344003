"""The cyclic collector is paused while the synth runs, restored after, and frozen only in one-shot processes."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import pulumi

from slm_deploy.synth import SynthError, synthesize
from slm_deploy.gc_pause import gc_paused

ROOT = Path(__file__).resolve().parents[2]


def test_paused_inside_restored_after_nested_and_on_error():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block restores "disabled", not "enabled"
    assert gc.isenabled()
    try:
        with gc_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_a_caller_that_disabled_the_collector_keeps_it_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_program_runs_with_the_collector_paused_and_it_is_back_on_after():
    seen = []

    def program():
        seen.append(gc.isenabled())
        pulumi.CustomResource("test:index:Thing", "thing", {"value": 1})

    result = synthesize(program, project="p", stack="s")
    assert seen == [False]
    assert gc.isenabled()
    assert [r.name for r in result.resources] == ["thing"]


def test_a_failing_program_leaves_the_collector_on():
    def program():
        raise RuntimeError("the program failed")

    try:
        synthesize(program, project="p", stack="s")
    except SynthError as exc:
        assert "the program failed" in str(exc)
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("a failing program must raise SynthError")
    assert gc.isenabled()


def test_the_paused_collector_still_frees_cycles_afterwards():
    """Pausing only delays collection: a cycle made during the pause is freed by the next collection (in a
    process that is not one-shot, nothing is frozen)."""
    import weakref

    class Node:
        pass

    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        probe = weakref.ref(a)
        del a, b
        assert probe() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert probe() is None


def test_what_a_pause_leaves_alive_goes_to_the_oldest_generation_in_one_step():
    """Young collections skip it (the first one after a synth walked everything the synth allocated); a full
    collection still frees its cycles; nothing stays frozen in a process that is not one-shot."""
    import weakref

    class Node:
        pass

    assert gc.get_freeze_count() == 0
    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        probe = weakref.ref(a)
        del a, b
    assert gc.get_freeze_count() == 0
    gc.collect(0)
    gc.collect(1)
    assert probe() is not None  # in the oldest generation: young collections do not look at it
    gc.collect(2)
    assert probe() is None


def test_what_a_failed_block_leaves_stays_young():
    """A failed synth's garbage (its abandoned tasks) is freed by the next young collections, as without the pause."""
    import weakref

    class Node:
        pass

    probe = None
    try:
        with gc_paused():
            a, b = Node(), Node()
            a.other, b.other = b, a
            probe = weakref.ref(a)
            del a, b
            raise RuntimeError("the program failed")
    except RuntimeError:
        pass
    assert gc.isenabled()
    gc.collect(0)
    assert probe() is None


def test_objects_someone_else_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            kept = [[i] for i in range(100)]
        assert gc.get_freeze_count() == frozen  # no unfreeze of theirs (and ours were not frozen)
        assert kept
    finally:
        gc.unfreeze()


_FREEZE = textwrap.dedent("""
    import gc, sys
    from slm_deploy.gc_pause import declare_one_shot, gc_paused
    if sys.argv[1] == "one-shot":
        declare_one_shot()
    before = gc.get_freeze_count()
    with gc_paused():
        kept = [[i] for i in range(1000)]
    print(before, gc.get_freeze_count(), gc.isenabled())
""")


def _freeze_counts(mode: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-B", "-c", _FREEZE, mode], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=120)
    return proc.stdout.split()


def test_only_a_one_shot_process_freezes_what_is_alive_after_a_pause():
    before, after, enabled = _freeze_counts("one-shot")
    assert int(after) >= int(before) + 1000 and enabled == "True"
    before, after, enabled = _freeze_counts("library")
    assert after == before == "0" and enabled == "True"


def test_the_entry_points_declare_themselves_one_shot():
    """The CLI's main() and the program gate's child; tests call the typer app, never main(), so a test process
    never freezes."""
    code = textwrap.dedent("""
        import sys
        import slm_deploy.gc_pause as g
        from slm_deploy import cli
        sys.argv = ["slm-deploy", "--version"]
        try:
            cli.main()
        except SystemExit:
            pass
        print(g._one_shot)
    """)
    proc = subprocess.run([sys.executable, "-B", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          timeout=120)
    assert proc.stdout.splitlines()[-1] == "True"
    source = (ROOT / "slm_deploy" / "program_gate.py").read_text()
    main_block = source[source.index('if __name__ == "__main__":'):]
    assert "declare_one_shot()" in main_block
