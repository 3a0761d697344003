"""A prewarmed checkov worker: overlap checkov's import with the synth on the second core.

A cold ``slm-deploy preview`` has two large fixed costs that do not depend on each
other: loading the Pulumi program and synthesizing it (~2 s), and importing checkov
(~1.5–2 s). :class:`ScanWorker` forks a child *before* the synth starts; the child
imports checkov and waits. When the build directory is rendered, the runner submits
the scans to the child and, while they run, validates schemas and runs our compose
and manifest-set checks in the parent. Results come back as plain :class:`Finding`s.

The child is forked from a parent that has not started any threads yet (no gRPC,
no Pulumi runtime), and it only ever runs :mod:`slm_deploy.gate.scan` functions.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["ScanWorker", "Pending", "Done"]


def _serve(conn: Connection) -> None:
    from slm_deploy.gate import scan

    scan.preload()
    if not conn.poll():  # idle (a synth still running): kubernetes-validate too, for a re-gate's few objects
        scan.preload_schemas()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        name, args = message
        try:
            conn.send((True, getattr(scan, name)(*args)))
        except Exception as exc:  # reported to the parent, which raises it there
            conn.send((False, f"{type(exc).__name__}: {exc}"))


class Pending:
    """A submitted scan; :meth:`result` waits for it."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def result(self) -> Any:
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"gate scan worker: {value}")
        return value


class Done:
    """A scan that ran in this process (no worker); same interface as :class:`Pending`."""

    def __init__(self, value: Any):
        self._value = value

    def result(self) -> Any:
        return self._value


class ScanWorker:
    """One forked child holding checkov, serving scans in submission order."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._used = False
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), name="slm-deploy-checkov", daemon=True)
        self._process.start()
        child.close()

    def submit(self, name: str, *args: Any) -> Pending:
        """Send ``scan.<name>(*args)`` to the child; collect it later with ``.result()``."""
        self._used = True
        self._conn.send((name, args))
        return Pending(self._conn)

    def close(self) -> None:
        """Stop the child. An unused worker (a cached verdict, a config error) is killed at once
        rather than waited for, so the prewarm never delays a run that did not need checkov."""
        if not self._used and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        if self._process.is_alive():
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.terminate()
        self._conn.close()

    def __enter__(self) -> "ScanWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
