"""The gate as the Pulumi program runs it, before registering anything.

A real ``pulumi preview``/``up`` process is already wired to the engine, so the
gate's synth (which needs the mock runtime) runs in a child process:
``python -m slm_deploy.program_gate STACK`` reads the program's validated
config on stdin, synthesizes, renders ``build/<stack>/`` and gates it. A failing
gate becomes a ``pulumi.RunError`` listing the failed checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["require_gate", "gate_config", "loaded_from_payload", "input_key", "DEFAULT_TIMEOUT_S", "TIMEOUT_ENV"]

TIMEOUT_ENV = "SLM_DEPLOY_GATE_TIMEOUT"
DEFAULT_TIMEOUT_S = 900.0
"""Generous: a cold gate (synth + render + checkov) takes seconds; a stack of hundreds of objects on a
busy 2-core runner a few minutes. Past it the gate is hung, not slow."""


def _timeout() -> float:
    import os

    raw = os.environ.get(TIMEOUT_ENV, "")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        import pulumi

        raise pulumi.RunError(f"{TIMEOUT_ENV}={raw!r}: must be a positive number of seconds (default "
                              f"{DEFAULT_TIMEOUT_S:g}); nothing was registered")
    return value


def _child_command(stack: str) -> list[str]:
    return [sys.executable, "-m", "slm_deploy.program_gate", stack]


def _kill_group(proc: "subprocess.Popen[str]") -> None:
    """SIGKILL the child's whole process group (the child and its checkov worker), then reap the child."""
    import os
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        pass


def _run_child(stack: str, payload: str, timeout: float) -> tuple[int | None, str, str]:
    """Run the gate child in its own process group. Returns (exit code or None on timeout, stdout, stderr).

    The pipes stay open as long as *any* process of the group holds them (a checkov worker left behind
    by a dying child did exactly that), so the child's own exit is what ends the wait: once it has
    exited, the rest of its group is killed and the pipes drain. Past ``timeout`` the group is killed.
    """
    import time

    proc = subprocess.Popen(_child_command(stack), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    chunks: tuple[str, str] | None = None
    data: str | None = payload
    while chunks is None:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill_group(proc)
            out, err = proc.communicate()
            return None, out or "", err or ""
        try:
            chunks = proc.communicate(data, timeout=min(left, 0.5))
        except subprocess.TimeoutExpired:
            data = None  # communicate() keeps the input it already has
            if proc.poll() is not None:  # the child is done; whatever still holds its pipes is a leftover
                _kill_group(proc)
    _kill_group(proc)  # nothing of the gate outlives it
    return proc.returncode, chunks[0] or "", chunks[1] or ""


def require_gate(stack: str, values: dict[str, Any], secret_keys: list[str]) -> None:
    """Raise ``pulumi.RunError`` unless the stack's gate passes (fail closed: a hung or killed gate fails)."""
    import os

    import pulumi

    override = os.environ.get("SLM_DEPLOY_WAIVERS")
    if override:
        from slm_deploy.gate.runner import waiver_file_record

        record = waiver_file_record(Path(override))
        pulumi.log.warn(f"SLM_DEPLOY_WAIVERS replaces policies/waivers.yaml for this gate: {record['path']} "
                        f"sha256 {record['sha256'] or '(missing)'}; every gate report records it")
    timeout = _timeout()
    code, out, err = _run_child(stack, json.dumps({"values": values, "secretKeys": secret_keys}), timeout)
    if code == 0:
        return
    if code is None:
        raise pulumi.RunError(
            f"slm-deploy gate for stack '{stack}' did not finish within {timeout:g} s; its process group was killed "
            f"and nothing was registered (a slow machine: raise {TIMEOUT_ENV})")
    detail = out.strip() or err.strip() or f"exit code {code}"
    raise pulumi.RunError(f"slm-deploy gate failed for stack '{stack}'; nothing was registered:\n{detail}")


def build_root(root: Path) -> Path:
    """Where the program's gate renders ``<stack>/`` (one definition: :func:`stacks.loader.build_root`, which the
    program also uses for the OnnxEdgeNode image context)."""
    from stacks.loader import build_root as _build_root

    return _build_root(root)


def _build_lock(out_dir: Path):
    """An exclusive lock on ``<build root>/.<stack>.lock`` for one render + gate."""
    import contextlib
    import fcntl

    @contextlib.contextmanager
    def held():
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(out_dir.parent / f".{out_dir.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return held()


def loaded_from_payload(stack: str, payload: dict[str, Any], root: Path):
    """The stack the gate judges, built from the payload the program serialized (the one serialization)."""
    from stacks.loader import LoadedStack, secret_placeholder, validate_values

    display = f"stacks/Pulumi.{stack}.yaml"
    config = validate_values(payload["values"], display)
    secret_keys = set(k.split(":", 1)[-1] for k in payload.get("secretKeys", []))
    values = dict(payload["values"]) | {k: secret_placeholder(k) for k in secret_keys}
    return LoadedStack(stack, root / display, config, values, secret_keys)


def gate_config(stack: str, payload: dict[str, Any], root: Path, worker: Any = None) -> int:
    """Child-process side: build and gate; print failures one per line. Exit 0 ok, 1 failed, 2 bad config."""
    from slm_deploy.gc_pause import gc_paused

    with gc_paused():  # the program's imports, ~1 million objects (see slm_deploy/gc_pause.py)
        from stacks.errors import ConfigError
        from slm_deploy.pipeline import build_stack

    try:
        loaded = loaded_from_payload(stack, payload, root)
    except ConfigError as exc:
        print(exc)
        return 2
    out_dir = build_root(root) / stack
    with _build_lock(out_dir):  # two previews of one stack must not render into each other's scan
        build = build_stack(loaded, out_dir, worker=worker)
    for f in build.gate.failed:
        print(f"FAILED {f.check_id} {f.resource} ({f.file}): {f.check_name} {f.message}".rstrip())
    return 0 if build.gate.ok else 1


# What never decides a verdict: tests, docs, scripts, build output, caches, other stacks' files.
_SKIP_TOP = {"build", "tests", "docs", "scripts", ".venv", ".git", ".ci", ".slm-deploy-cache"}
_KEEP_PROGRAM_VERDICTS = 3
"""Per stack, the newest verdicts kept (older ones are pruned when a new one is stored)."""


def input_files(stack: str, root: Path) -> list[Path]:
    """Every file that can change what ``stack`` renders or how it is judged: the program, components,
    templates, gate and policies code and data, the project file and lock, and this stack's own file
    (not the other stacks', not docs, tests or build output)."""
    files = []
    for top in sorted(root.iterdir()):
        if top.name in _SKIP_TOP or top.name.startswith("."):
            continue
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".md"):
                continue
            rel = path.relative_to(root)
            if rel.parts[0] == "stacks" and path.name.startswith("Pulumi.") and path.name != f"Pulumi.{stack}.yaml":
                continue
            files.append(path)
    return files


def input_key(stack: str, payload: dict[str, Any], root: Path) -> str:
    """sha256 of the gate's inputs *before* synthesis, so an unchanged stack skips the synth too.

    Covers the stack's validated config (secret names, never values), every file of :func:`input_files`,
    the installed versions of the tools that render or judge it (:func:`slm_deploy.gate.cache.tool_versions`),
    the waiver file in use and today's date (waivers expire).
    """
    import hashlib
    from datetime import date

    from slm_deploy.gate.cache import tool_versions
    from slm_deploy.gate.runner import default_waivers_path

    h = hashlib.sha256()
    h.update(json.dumps({"stack": stack, "payload": payload, "today": date.today().isoformat(),
                         "tools": tool_versions()}, sort_keys=True).encode())
    waivers = default_waivers_path()
    h.update(f"waivers={waivers.resolve()}\n".encode() + (waivers.read_bytes() if waivers.is_file() else b""))
    for path in input_files(stack, root):
        h.update(f"\0{path.relative_to(root).as_posix()}\0".encode() + path.read_bytes())
    return h.hexdigest()


def _prune(directory: Path, stack: str) -> None:
    """Keep the newest :data:`_KEEP_PROGRAM_VERDICTS` verdicts of ``stack``; a changed input never hits them again."""
    entries = sorted(directory.glob(f"{stack}-" + "?" * 32 + ".json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[_KEEP_PROGRAM_VERDICTS:]:
        old.unlink(missing_ok=True)


def _verdict_file(stack: str, key: str) -> Path:
    from slm_deploy.gate.cache import cache_dir

    return cache_dir() / "program" / f"{stack}-{key[:32]}.json"


def run(stack: str, payload: dict[str, Any], root: Path) -> int:
    """``python -m slm_deploy.program_gate``: a cached verdict for unchanged inputs, else build and gate."""
    import contextlib
    import io

    from slm_deploy.gate.cache import cache_disabled

    key = None if cache_disabled() else input_key(stack, payload, root)
    if key and _verdict_file(stack, key).is_file():
        cached = json.loads(_verdict_file(stack, key).read_text())
        print(cached["output"], end="")
        return cached["code"]

    from slm_deploy.gate.worker import ScanWorker

    out = io.StringIO()
    with ScanWorker() as scan_worker, contextlib.redirect_stdout(out):  # checkov loads on the other core
        code = gate_config(stack, payload, root, scan_worker)
    print(out.getvalue(), end="")
    if key and code in (0, 1):  # a verdict, not a config error
        path = _verdict_file(stack, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"code": code, "output": out.getvalue()}))
        _prune(path.parent, stack)
    return code


if __name__ == "__main__":
    from slm_deploy.paths import project_root
    from slm_deploy.gc_pause import declare_one_shot

    declare_one_shot()

    sys.exit(run(sys.argv[1], json.loads(sys.stdin.read()), project_root()))
