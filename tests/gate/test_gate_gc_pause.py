"""The gate pauses Python's cyclic garbage collector while it runs (slm_deploy/gc_pause.py) and always leaves it
as it found it; checkov run in-process (no worker) runs with the collector as the caller had it."""

from __future__ import annotations

import gc

import pytest

from slm_deploy.gate import runner
from slm_deploy.gc_pause import gc_paused, gc_resumed


@pytest.fixture(autouse=True)
def _restore_gc():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_paused_restores_the_state_it_found(enabled):
    (gc.enable if enabled else gc.disable)()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled() is enabled
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled() is enabled


@pytest.mark.parametrize("enabled", [True, False])
def test_resumed_gives_the_callers_state_back_for_a_while(enabled):
    (gc.enable if enabled else gc.disable)()
    with gc_paused():
        with gc_paused(), gc_resumed():
            assert gc.isenabled() is enabled
        assert not gc.isenabled()
    with gc_resumed():  # outside a pause: unchanged
        assert gc.isenabled() is enabled


def test_run_gate_pauses_and_restores_even_when_it_raises(monkeypatch, tmp_path):
    seen = []

    def fake(*args):
        seen.append(gc.isenabled())
        raise OSError("disk gone")

    monkeypatch.setattr(runner, "_run_gate", fake)
    gc.enable()
    with pytest.raises(OSError):
        runner.run_gate(tmp_path, "demo")
    assert seen == [False] and gc.isenabled()


def test_an_in_process_scan_runs_with_the_collector_on(monkeypatch):
    from slm_deploy.gate import incremental, scan

    seen = []
    monkeypatch.setattr(scan, "check_catalog", lambda *args: seen.append(gc.isenabled()) or {"builtins": []},
                        raising=True)
    gc.enable()
    with gc_paused():
        assert incremental._call(None, "check_catalog", None).result() == {"builtins": []}
        assert not gc.isenabled()
    assert seen == [True]


def test_a_gate_leaves_the_collector_on(tmp_path):
    from gate_helpers import write_build

    build = write_build(tmp_path / "b", [{"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "demo", "namespace": "demo"}, "data": {"a": "1"}}])
    gc.enable()
    result = runner.run_gate(build, "demo", use_cache=False, write_reports=False)
    assert gc.isenabled() and result.passed
