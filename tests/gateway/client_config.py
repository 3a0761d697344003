"""Named clients in a stack file, checked the same way for every target that has them (Ollama's auth proxy,
the edge node's proxy): where configured keys go, and how bad client input is refused (not a test module)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from slm_deploy.render import render
from stacks.loader import load_stack, runtime_config
from stacks.schema import PROJECT


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def seen_secrets(monkeypatch) -> dict[str, object]:
    """Secret-bearing inputs as the engine receives them, before the synth redacts them: Kubernetes Secrets by
    name, Docker uploads by container path (filled in while a synth runs)."""
    import slm_deploy.synth as synth_module

    seen: dict[str, object] = {}
    original = synth_module.normalize

    def spy(value, *a, **kw):
        if isinstance(value, dict) and value.get("kind") == "Secret" and isinstance(value.get("metadata"), dict):
            seen[value["metadata"].get("name")] = copy.deepcopy(value)
        uploads = value.get("uploads") if isinstance(value, dict) else None
        if isinstance(uploads, dict):  # a list holding a secret arrives wrapped whole: {<sig>: ..., "value": [...]}
            uploads = uploads.get("value")
        for up in uploads if isinstance(uploads, list) else []:
            if isinstance(up, dict) and "file" in up:
                seen[up["file"]] = copy.deepcopy(up.get("content"))
        return original(value, *a, **kw)

    monkeypatch.setattr(synth_module, "normalize", spy)
    return seen


def keys_reach_only_the_keys_file(project: Path, tmp_path: Path, monkeypatch, client_keys: dict[str, list[str]],
                                  keys_file: str, *, generated_for: str) -> None:
    """Synthesize stack ``t`` of ``project`` with ``clientKeys`` set (decrypted, as the Pulumi CLI passes it):
    each configured key is hashed into the proxy's keys file (``keys_file``: the Docker upload's path, or the
    Kubernetes Secret's name), ``generated_for`` keeps a generated key, and neither a key nor its hash is
    anywhere in the synthesized inputs or the rendered build."""
    from slm_deploy.synth import synthesize
    from stacks.program import main

    stack = load_stack("t", project)
    config, secret_keys = runtime_config(stack)
    config[f"{PROJECT}:clientKeys"] = json.dumps(client_keys)
    seen = seen_secrets(monkeypatch)
    monkeypatch.setenv("SLM_DEPLOY_BUILD_ROOT", str(tmp_path / "br"))
    result = synthesize(lambda: main(gate=None, config=stack.config), project=PROJECT, stack="t", config=config,
                        secret_keys=sorted(set(secret_keys) | {f"{PROJECT}:clientKeys"}))
    text = json.dumps(seen[keys_file])
    keys = [k for ks in client_keys.values() for k in ks]
    for client, client_keys_ in client_keys.items():
        assert all(f"{client} {sha256(k)}" in text for k in client_keys_), text
    assert re.search(rf"{generated_for} [0-9a-f]{{64}}", text) and not any(k in text for k in keys)
    out = tmp_path / "build"
    render(result, out)
    everything = json.dumps([r.inputs for r in result.resources], default=str) + "".join(
        p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    for material in keys + [sha256(k) for k in keys]:
        assert material not in everything


def refused_as_one_located_line(project: Path, tmp_path: Path, monkeypatch, expected: str) -> None:
    """``preview t`` of ``project``: exit 2, exactly one ``stacks/Pulumi.t.yaml:<line>:`` line holding
    ``expected``, no traceback, nothing written."""
    from slm_deploy.cli import app
    from slm_deploy.session import Session

    monkeypatch.setattr(Session, "project_dir", None)
    monkeypatch.setenv("SLM_DEPLOY_BUILD_ROOT", str(tmp_path / "br"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["-C", str(project), "preview", "t", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    located = [line for line in lines if "stacks/Pulumi.t.yaml:" in line]
    assert len(located) == 1 and expected in located[0], lines
    assert re.match(r"(error: )?stacks/Pulumi\.t\.yaml:\d+: ", located[0]), located
    assert "Traceback" not in result.output and not out.exists() and not (tmp_path / "br").exists()
