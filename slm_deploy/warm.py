"""Warm ``preview``: an unchanged stack is not synthesized, rendered or scanned again.

After a full preview, ``build/<stack>/.slm-deploy-input`` records the program gate's input key
(:func:`slm_deploy.program_gate.input_key`: the stack's validated config, every file that renders or
judges it, the waiver file, the gate's tools, today's date), computed *before* the build started. The next
preview computes the key again; when it matches and the gate's verdict cache holds the verdict for the
build directory exactly as it is on disk, the preview prints the resource tree from ``resources.json`` and
that verdict, says "unchanged", and never starts the synth, the renderer or checkov. Anything else (a
changed input, an edited or deleted build file, a new day, ``SLM_DEPLOY_NO_CACHE=1``) is a full preview.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from slm_deploy.synth_records import Build, ResourceRecord, SynthResult
from stacks.loader import LoadedStack

__all__ = ["INPUT_MARKER", "preview_key", "record_inputs", "unchanged_build"]

INPUT_MARKER = ".slm-deploy-input"


def _payload(loaded: LoadedStack) -> dict[str, Any]:
    """What the build depends on from the stack file: what the Pulumi program hands its gate, plus
    other namespaces' keys (the offline synth passes those to the program too)."""
    return {"values": loaded.config.model_dump(by_alias=True, exclude_defaults=True, mode="json"),
            "secretKeys": sorted(loaded.secret_keys), "foreign": loaded.foreign}


def preview_key(loaded: LoadedStack, out_dir: Path) -> str:
    """The program gate's input key for this stack and build directory. Code, templates and policies are
    this checkout's; the stack file counts through its validated config (also with ``--project-dir``)."""
    from slm_deploy.paths import project_root
    from slm_deploy.program_gate import input_key

    return input_key(loaded.name, _payload(loaded) | {"out": str(Path(out_dir).resolve())}, project_root())


def record_inputs(out_dir: Path, key: str) -> None:
    """Mark a finished build with the input key computed before it started."""
    (Path(out_dir) / INPUT_MARKER).write_text(json.dumps({"key": key}) + "\n")


def unchanged_build(loaded: LoadedStack, out_dir: Path, key: str) -> Build | None:
    """The previous build of ``loaded`` with its cached verdict (reports rewritten), or None."""
    from slm_deploy.gate.cache import cache_disabled, cache_key, load_cached
    from slm_deploy.gate.runner import default_policies_dir, default_waivers_path
    from stacks.schema import PROJECT

    marker = Path(out_dir) / INPUT_MARKER
    if cache_disabled() or not marker.is_file():
        return None
    try:
        if json.loads(marker.read_text()).get("key") != key:
            return None
        rows = json.loads((Path(out_dir) / "resources.json").read_text())
    except (OSError, ValueError):
        return None
    verdict = cache_key(Path(out_dir), loaded.name, default_policies_dir(), default_waivers_path(), date.today())
    gate = load_cached(loaded.name, verdict)
    if gate is None:  # the build dir changed since (or its verdict was pruned): build again
        return None
    from slm_deploy.gate.reports import write_reports

    gate.reports = write_reports(gate, Path(out_dir))
    synth = SynthResult(PROJECT, loaded.name,
                        [ResourceRecord(r["type"], r["name"], bool(r.get("custom")), {}, r.get("parent")) for r in rows])
    manifests = len(list((Path(out_dir) / "manifests").glob("*.yaml")))
    return Build(loaded.name, Path(out_dir), synth, {"manifests": manifests, "resources": len(rows)}, gate, unchanged=True)
