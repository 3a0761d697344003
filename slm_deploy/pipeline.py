"""One stack through the one path: config -> synth (the real program, mock engine) -> render -> gate."""

from __future__ import annotations

from pathlib import Path

from stacks.loader import LoadedStack, runtime_config
from slm_deploy.gate import run_gate
from slm_deploy.gate.worker import ScanWorker
from slm_deploy.render import render
from slm_deploy.synth import SynthResult, synthesize
from slm_deploy.synth_records import Build
from slm_deploy.gc_pause import gc_paused
from stacks.schema import PROJECT

__all__ = ["Build", "synth_stack", "build_stack"]


def synth_stack(stack: LoadedStack, *, stock_runtime: bool = False) -> SynthResult:
    """Run ``stacks.program.main`` (what ``__main__.py`` runs) under the mock runtime.

    The stack's config was validated when it was loaded: the program gets that StackConfig, not a
    second validation of the same values (secrets and other namespaces' keys still come from the
    runtime config, as under the real engine). ``stock_runtime``: see :func:`slm_deploy.synth.synthesize`.
    """
    with gc_paused():  # the composition's imports (see slm_deploy/gc_pause.py)
        from stacks.program import main

    config, secret_keys = runtime_config(stack)
    return synthesize(lambda: main(gate=None, config=stack.config), project=PROJECT, stack=stack.name, config=config,
                      secret_keys=secret_keys, stock_runtime=stock_runtime)


def build_stack(stack: LoadedStack, out_dir: Path, *, worker: ScanWorker | None = None) -> Build:
    """Synthesize, render to ``out_dir`` and gate. Config errors surface before anything is written.

    ``worker``: a prewarmed checkov worker started before the synth (see slm_deploy.gate.worker).
    """
    synth = synth_stack(stack)
    summary = render(synth, out_dir)
    return Build(stack.name, out_dir, synth, summary, run_gate(out_dir, stack.name, worker=worker))
