"""The prewarmed checkov worker gives exactly the in-process verdict, and keeps checkov out of the parent."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from gate_helpers import REPO

from slm_deploy.gate import run_gate
from slm_deploy.gate.worker import ScanWorker


def _summary(result):
    return (
        sorted((f.check_id, f.resource) for f in result.passed),
        sorted((f.check_id, f.resource) for f in result.failed),
        sorted(result.checks),
    )


def test_worker_verdict_equals_in_process_verdict(staging_build):
    local = run_gate(staging_build, "staging", use_cache=False, write_reports=False)
    with ScanWorker() as worker:
        remote = run_gate(staging_build, "staging", use_cache=False, write_reports=False, worker=worker)
    assert _summary(remote) == _summary(local)
    assert remote.ok and len(remote.passed) > 100


def test_worker_errors_surface_in_the_parent(tmp_path):
    import pytest

    with ScanWorker() as worker:
        with pytest.raises(RuntimeError, match="gate scan worker: AttributeError"):
            worker.submit("no_such_scan").result()
        # the worker survives a failed request and keeps serving
        assert worker.submit("find_dockerfiles", tmp_path).result() == []


def test_parent_never_imports_checkov_when_a_worker_scans(staging_build):
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from slm_deploy.gate import run_gate
        from slm_deploy.gate.worker import ScanWorker
        with ScanWorker() as worker:
            result = run_gate(Path({str(staging_build)!r}), "staging", use_cache=False, worker=worker)
        print(result.ok, any(m == "checkov" or m.startswith("checkov.") for m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["True", "False"]
