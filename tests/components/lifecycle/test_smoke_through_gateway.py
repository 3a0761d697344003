"""The smoke script as it runs behind a ModelGateway, for real on 127.0.0.1: the generated nginx + njs proxy
with the gateway's client list (the stack's clients plus ``slm-verify``), the real vllm-router binary and
stand-in OpenAI servers. What passes here is the path a client takes: key, allow-list, routing by model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.gateway.args import GatewayArgs
from components.gateway.constants import VERIFY_CLIENT
from components.gateway.proxy import ProxyClient
from components.lifecycle.scripts import SCRIPTS_DIR
from tests.gateway.harness import Gateway, Router, StandIn, require_tools

VERIFY_KEY = "sk-Verify-0123456789abcdef"
APP_KEY = "sk-App-fedcba9876543210"
SMOKE = SCRIPTS_DIR / "smoke_check.py"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    require_tools()
    workdir = tmp_path_factory.mktemp("gw-smoke")
    stand_ins = [StandIn("phi"), StandIn("qwen")]
    router = Router(workdir, policy="round_robin")
    gw = None
    try:
        for s in stand_ins:
            router.add_worker(s.url)
        args = GatewayArgs.model_validate(
            {"replicas": 1, "clients": [{"name": "app", "models": ["qwen"], "rpm": 600, "concurrency": 4}]})
        clients = [ProxyClient(c.name, tuple(c.models), c.rpm, c.concurrency, c.burst)
                   for c in args.effective_clients(["phi", "qwen"], verify_concurrency=4)]
        assert [c.name for c in clients] == ["app", VERIFY_CLIENT]
        gw = Gateway(workdir, clients, ["phi", "qwen"], router.address, {"app": [APP_KEY], VERIFY_CLIENT: [VERIFY_KEY]})
        yield gw, stand_ins
    finally:
        if gw is not None:
            gw.stop()
        router.stop()
        for s in stand_ins:
            s.close()


def _smoke(tmp_path: Path, base_url: str, key: str, *models: str) -> subprocess.CompletedProcess[str]:
    key_file = tmp_path / "api-key"
    key_file.write_text(key + "\n")
    argv = [sys.executable, str(SMOKE), "--base-url", base_url, "--wait", "5", "--key-file", str(key_file)]
    for m in models:
        argv += ["--model", m]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_verify_client_passes_for_every_model_through_the_gateway(gateway, tmp_path):
    gw, stand_ins = gateway
    proc = _smoke(tmp_path, gw.url + "/v1", VERIFY_KEY, "phi", "qwen")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1].removeprefix("smoke: "))
    assert summary["models"] == ["phi", "qwen"]
    for s in stand_ins:  # each model's request reached its own server, which never saw a key
        with s.seen.lock:
            assert s.seen.paths.count("/v1/chat/completions") >= 1
            assert not any("authorization" in h for h in s.seen.headers)


def test_a_client_without_the_model_fails_the_smoke_with_the_gateway_reason(gateway, tmp_path):
    gw, _ = gateway
    proc = _smoke(tmp_path, gw.url + "/v1", APP_KEY, "phi")
    assert proc.returncode == 1
    assert "smoke: FAIL" in proc.stdout and "phi" in proc.stdout


def test_a_wrong_key_fails_the_smoke(gateway, tmp_path):
    gw, _ = gateway
    proc = _smoke(tmp_path, gw.url + "/v1", VERIFY_KEY.swapcase(), "phi")
    assert proc.returncode == 1 and "smoke: FAIL" in proc.stdout and "401" in proc.stdout
