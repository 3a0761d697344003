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
    import pulumi

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
    from slm_deploy.config import LoadedStack, secret_placeholder, validate_values
    from slm_deploy.errors import ConfigError
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


if __name__ == "__main__":
    from slm_deploy.gate.worker import ScanWorker

    with ScanWorker() as scan_worker:  # imports checkov on the other core while the stack is synthesized
        from slm_deploy.config import project_root

        code = gate_config(sys.argv[1], json.loads(sys.stdin.read()), project_root(), scan_worker)
    sys.exit(code)
