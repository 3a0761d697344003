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

__all__ = ["require_gate", "gate_config"]


def require_gate(stack: str, values: dict[str, Any], secret_keys: list[str]) -> None:
    """Raise ``pulumi.RunError`` unless the stack's gate passes."""
    import os

    import pulumi

    override = os.environ.get("SLM_DEPLOY_WAIVERS")
    if override:
        from slm_deploy.gate.runner import waiver_file_record

        record = waiver_file_record(Path(override))
        pulumi.log.warn(f"SLM_DEPLOY_WAIVERS replaces policies/waivers.yaml for this gate: {record['path']} "
                        f"sha256 {record['sha256'] or '(missing)'}; every gate report records it")
    payload = json.dumps({"values": values, "secretKeys": secret_keys})
    proc = subprocess.run(
        [sys.executable, "-m", "slm_deploy.program_gate", stack],
        input=payload, capture_output=True, text=True, check=False,
    )
    if proc.returncode == 0:
        return
    detail = (proc.stdout.strip() or proc.stderr.strip() or f"exit code {proc.returncode}")
    raise pulumi.RunError(f"slm-deploy gate failed for stack '{stack}'; nothing was registered:\n{detail}")


def gate_config(stack: str, payload: dict[str, Any], root: Path, worker: Any = None) -> int:
    """Child-process side: build and gate; print failures one per line. Exit 0 ok, 1 failed, 2 bad config."""
    from stacks.loader import LoadedStack, secret_placeholder, validate_values
    from stacks.errors import ConfigError
    from slm_deploy.pipeline import build_stack

    display = f"stacks/Pulumi.{stack}.yaml"
    try:
        config = validate_values(payload["values"], display)
    except ConfigError as exc:
        print(exc)
        return 2
    secret_keys = set(k.split(":", 1)[-1] for k in payload.get("secretKeys", []))
    values = dict(payload["values"]) | {k: secret_placeholder(k) for k in secret_keys}
    loaded = LoadedStack(stack, root / display, config, values, secret_keys)
    build = build_stack(loaded, root / "build" / stack, worker=worker)
    for f in build.gate.failed:
        print(f"FAILED {f.check_id} {f.resource} ({f.file}): {f.check_name} {f.message}".rstrip())
    return 0 if build.gate.ok else 1


# Everything that can change what this stack renders or how it is judged: the program and its
# components, templates, the gate and its policies, the locked dependency set, the project file.
_INPUTS = ("components", "stacks", "slm_deploy", "templates", "policies", "Pulumi.yaml", "uv.lock")


def input_key(stack: str, payload: dict[str, Any], root: Path) -> str:
    """sha256 of the gate's inputs *before* synthesis, so an unchanged stack skips the synth too.

    Covers the stack's validated config (secret names, never values), every source file that
    renders or judges it, the waiver file in use and today's date (waivers expire).
    """
    import hashlib
    from datetime import date

    from slm_deploy.gate.runner import default_waivers_path

    h = hashlib.sha256()
    h.update(json.dumps({"stack": stack, "payload": payload, "today": date.today().isoformat()}, sort_keys=True).encode())
    waivers = default_waivers_path()
    h.update(f"waivers={waivers.resolve()}\n".encode() + (waivers.read_bytes() if waivers.is_file() else b""))
    for name in _INPUTS:
        base = root / name
        files = [base] if base.is_file() else sorted(
            p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
        for path in files:
            h.update(f"\0{path.relative_to(root).as_posix()}\0".encode() + path.read_bytes())
    return h.hexdigest()


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
    return code


if __name__ == "__main__":
    from slm_deploy.paths import project_root

    sys.exit(run(sys.argv[1], json.loads(sys.stdin.read()), project_root()))
