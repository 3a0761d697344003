"""Secrets by construction (issue #10, item 7): real secret values never reach anything the preview writes.

Every secret key the schema has (``stacks.schema.SECRET_KEYS``) is set in the stack file the way
``pulumi config set --secret`` sets it (a ``secure:`` entry), and the loader hands the program a real value
for it, as the Pulumi CLI does after decrypting: a canary that is a perfectly good key, token, password or
URL. The offline preview (the CLI command, in process) then runs into tmp_path, and every file it wrote (the
build directory, the program's build root, the gate's verdict cache), everything it printed and every log
record are searched for each canary. Redaction is by type (slm_deploy/synth.py ``normalize``): inside a
Pulumi secret wrapper only reference fields survive, so no marker is needed for a value to stay out.

``clientKeys`` is an object (client -> key or list of keys), set per client with
``pulumi config set --secret --path 'clientKeys.<client>'`` and allowed only on a stack with a gateway: there
it is written in that per-leaf ``secure:`` form for the stack's own clients, the loader hands the program the
decrypted object as JSON text, and every key (and its SHA-256, which the proxy's keys file holds) is a canary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stacks.loader import list_stacks
from stacks.schema import PROJECT, SECRET_KEYS
from tests.conftest import REPO

CANARIES = {
    "apiKey": "sk-canaryApiKey" + secrets.token_hex(12),
    "hfToken": "hf_canaryHfToken" + secrets.token_hex(12),
    "grafanaAdminPassword": "canaryGrafana" + secrets.token_hex(12),
    "webuiSecretKey": "canaryWebui" + secrets.token_hex(12),
    "alertmanagerWebhookUrl": "https://hooks.example.com/canaryWebhook" + secrets.token_hex(12),
    "clientKeys": {  # the decrypted object; one current + one still-accepted key for chat-app (rotation overlap)
        "chat-app": ["sk-canaryClientCurrent" + secrets.token_hex(16), "sk-canaryClientPrevious" + secrets.token_hex(16)],
        "batch-jobs": "sk-canaryClientBatch" + secrets.token_hex(16),
    },
}
PER_CLIENT = {"clientKeys"}
"""Object-valued secrets, set leaf by leaf with ``--path``; only stacks whose config has a gateway take them."""
VARIANTS = {
    "proxied": ("dev", {"authProxy": True, "publishAddress": "0.0.0.0"}),
    "clients": ("dev", {"authProxy": True, "apiClients": [
        {"name": "chat-app", "models": ["phi4-mini:3.8b-q4_K_M"], "rpm": 60, "concurrency": 4},
        {"name": "batch-jobs", "models": ["qwen3:0.6b-q4_K_M"], "rpm": 30, "concurrency": 2}]}),
}
"""The dev stack with the Docker auth proxy on: its keys file is the one Docker upload derived from apiKey;
with named clients (``apiClients``) the upload of SHA-256 hashes of the clientKeys."""


def test_every_secret_key_has_a_canary():
    assert set(CANARIES) == set(SECRET_KEYS)


def _materials(key: str) -> list[str]:
    """What must never appear for ``key``: its value, or for per-client keys each key and its SHA-256."""
    canary = CANARIES[key]
    if not isinstance(canary, dict):
        return [canary]
    keys = [k for v in canary.values() for k in (v if isinstance(v, list) else [v])]
    return keys + [hashlib.sha256(k.encode()).hexdigest() for k in keys]


def _decrypted(key: str) -> str:
    """The plaintext the Pulumi CLI hands the program for ``key`` (an object arrives as JSON text)."""
    canary = CANARIES[key]
    return json.dumps(canary) if isinstance(canary, dict) else canary


def _project(root: Path, stack: str) -> str:
    """``root`` holds Pulumi.yaml and the stack file with every secret key set as ``secure:``."""
    base, ollama = VARIANTS.get(stack, (stack, None))
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    data = yaml.safe_load((REPO / "stacks" / f"Pulumi.{base}.yaml").read_text())
    if ollama:
        data["config"][f"{PROJECT}:ollama"].update(ollama)
    for key in SECRET_KEYS:
        # What `pulumi config set --secret` writes: ciphertext the offline path never decrypts.
        if key not in PER_CLIENT:
            data["config"][f"{PROJECT}:{key}"] = {"secure": "v1:" + secrets.token_hex(16)}
        elif _has_named_clients(data["config"]):
            # `pulumi config set --secret --path 'clientKeys.<client>[i]'`: one secure leaf per key.
            data["config"][f"{PROJECT}:{key}"] = {
                client: [{"secure": "v1:" + secrets.token_hex(16)} for _ in keys] if isinstance(keys, list)
                else {"secure": "v1:" + secrets.token_hex(16)} for client, keys in CANARIES[key].items()}
    (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return stack


def _leaks(text: str) -> list[str]:
    return [key for key in CANARIES if any(m in text for m in _materials(key))]


def _has_named_clients(config: dict) -> bool:
    """A gateway, or Ollama's auth proxy with apiClients: the stacks whose proxies take clientKeys."""
    return f"{PROJECT}:gateway" in config or bool((config.get(f"{PROJECT}:ollama") or {}).get("apiClients"))


def _stack_has_named_clients(stack: str) -> bool:
    base, ollama = VARIANTS.get(stack, (stack, None))
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{base}.yaml").read_text())["config"]
    if ollama:
        config[f"{PROJECT}:ollama"] = {**config[f"{PROJECT}:ollama"], **ollama}
    return _has_named_clients(config)


def test_client_keys_canary_runs_on_the_gateway_and_a_single_proxy():
    assert any(_stack_has_named_clients(s) and f"{PROJECT}:gateway" in yaml.safe_load(
        (REPO / "stacks" / f"Pulumi.{s}.yaml").read_text())["config"] for s in list_stacks()), "no reference stack has a gateway"
    assert _stack_has_named_clients("clients")


@pytest.mark.parametrize("stack", [*list_stacks(), *VARIANTS])
def test_no_secret_value_reaches_any_output(stack, tmp_path, monkeypatch, caplog):
    from slm_deploy.cli import app
    from slm_deploy.session import Session

    root = tmp_path / "project"
    _project(root, stack)
    out, cache, build_root = tmp_path / "out", tmp_path / "cache", tmp_path / "build-root"
    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(cache))
    monkeypatch.setenv("SLM_DEPLOY_BUILD_ROOT", str(build_root))
    monkeypatch.setattr(Session, "project_dir", None)
    # The Pulumi CLI decrypts `secure:` values and hands the program the plaintext, marked secret: do the same.
    monkeypatch.setattr("stacks.loader.secret_placeholder", _decrypted)
    import components.gateway.named_clients as named_clients

    parsed: list[dict] = []  # positive control: the proxies really received the decrypted client keys
    original = named_clients.configured_keys_or_none
    monkeypatch.setattr(named_clients, "configured_keys_or_none",
                        lambda text, clients: parsed.append(original(text, clients)) or parsed[-1])
    caplog.set_level(logging.DEBUG)

    result = CliRunner().invoke(app, ["-C", str(root), "-v", "preview", stack, "--out", str(out)])
    written = [p for d in (out, cache, build_root) if d.exists() for p in d.rglob("*") if p.is_file()]
    leaks = [f"{p.relative_to(tmp_path)}: {key}" for p in written for key in _leaks(p.read_bytes().decode("utf-8", "replace"))]
    leaks += [f"CLI output: {key}" for key in _leaks(result.output + (result.stderr if result.stderr_bytes else ""))]
    leaks += [f"log: {key}" for key in _leaks(caplog.text)]
    assert leaks == [], "secret values in the preview's outputs"
    assert result.exit_code == 0, result.output
    assert any(p.name == "verdict.json" for p in written) and list(cache.rglob("*")), "the preview wrote no reports or cache"
    if _stack_has_named_clients(stack):
        expected = {c: v if isinstance(v, list) else [v] for c, v in CANARIES["clientKeys"].items()}
        assert expected in parsed, "no proxy saw the clientKeys canary"
