"""The smoke Job's script runs for real against a stand-in OpenAI server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from components.lifecycle.scripts import SCRIPTS_DIR
from standin_http import Reply, Seen, serve

SCRIPT = SCRIPTS_DIR / "smoke_check.py"
KEY = "k" * 48


def openai(*, models=("phi4-mini",), require_key=True, chat=None, busy_first=0, key=KEY):
    """An OpenAI-compatible stand-in behind a Bearer check, like the nginx auth proxy."""
    state = {"busy": busy_first}

    def route(req: Seen) -> Reply:
        if state["busy"]:
            state["busy"] -= 1
            return Reply(503, {"error": "no ready upstream"})
        if require_key and req.headers.get("authorization") != f"Bearer {key}":
            return Reply(401, {"error": "unauthorized"})
        if req.method == "GET" and req.path == "/v1/models":
            return Reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
        if req.method == "POST" and req.path == "/v1/chat/completions":
            if chat is not None:
                return chat(json.loads(req.body))
            body = json.loads(req.body)
            return Reply(200, {"id": "c1", "object": "chat.completion", "model": body["model"],
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                            "finish_reason": "stop"}]})
        return Reply(404, {"error": "no route"})
    return serve(route)


def run(url: str, tmp_path, *extra: str, key: str | None = KEY, wait: str = "3") -> subprocess.CompletedProcess:
    args = [sys.executable, str(SCRIPT), "--base-url", f"{url}/v1", "--wait", wait, "--timeout", "5", *extra]
    if key is not None:
        key_file = tmp_path / "api-key"
        key_file.write_text(key + "\n")
        args += ["--key-file", str(key_file)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def last_json(done) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_passes_against_an_authenticated_server(tmp_path):
    with openai(models=("phi4-mini", "qwen3-8b")) as server:
        done = run(server.url, tmp_path, "--model", "phi4-mini", "--model", "qwen3-8b")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke: ok unauthenticated GET /models refused (HTTP 401)" in done.stdout
    assert "smoke: ok GET /models lists phi4-mini, qwen3-8b" in done.stdout
    summary = last_json(done)
    assert summary["result"] == "passed" and set(summary["chatSeconds"]) == {"phi4-mini", "qwen3-8b"}
    chats = [json.loads(s.body) for s in server.seen if s.method == "POST"]
    assert [c["model"] for c in chats] == ["phi4-mini", "qwen3-8b"]
    assert all(c["max_tokens"] == 8 and c["temperature"] == 0 for c in chats)


def test_retries_while_the_proxy_has_no_ready_upstream(tmp_path):
    with openai(busy_first=2) as server:
        done = run(server.url, tmp_path, "--model", "phi4-mini", wait="30")
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("smoke: waiting: GET") == 2


@pytest.mark.parametrize("server_kwargs, reason", [
    ({"require_key": False}, "without a key answered HTTP 200, not 401/403: the endpoint is not authenticated"),
    ({"key": "other"}, "/v1/models answered HTTP 401 (the proxy refused the client key)"),
    ({"models": ("qwen3-8b",)}, "/v1/models lists qwen3-8b; missing phi4-mini"),
    ({"chat": lambda body: Reply(500, {"error": "CUDA out of memory"})},
     "/v1/chat/completions (model phi4-mini) answered HTTP 500: {\"error\": \"CUDA out of memory\"}"),
    ({"chat": lambda body: Reply(200, {"choices": []})}, "returned no choice with a message"),
    ({"chat": lambda body: Reply(200, b"<html>gateway</html>", "text/html")}, "the answer is not JSON"),
])
def test_each_failure_exits_1_and_says_why(tmp_path, server_kwargs, reason):
    with openai(**server_kwargs) as server:
        done = run(server.url, tmp_path, "--model", "phi4-mini")
    assert done.returncode == 1, done.stdout
    fail = [line for line in done.stdout.splitlines() if line.startswith("smoke: FAIL")]
    assert len(fail) == 1 and reason in fail[0], done.stdout
    assert last_json(done)["result"] == "failed"


def test_an_unreachable_endpoint_fails_after_the_wait_budget(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = run(f"http://127.0.0.1:{port}", tmp_path, "--model", "phi4-mini", wait="1")
    assert done.returncode == 1
    assert "still failing after the wait budget (ConnectionRefusedError" in done.stdout


def test_an_endpoint_without_authentication_is_checked_without_a_key(tmp_path):
    with openai(require_key=False) as server:
        done = run(server.url, tmp_path, "--model", "phi4-mini", key=None)
    assert done.returncode == 0, done.stdout
    assert all("authorization" not in s.headers for s in server.seen)


def test_an_unreadable_or_empty_key_file_is_bad_usage(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                           "--key-file", str(tmp_path / "missing")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "smoke: ERROR cannot read the client key file" in done.stdout
    with openai() as server:
        done = run(server.url, tmp_path, "--model", "phi4-mini", key="")
    assert done.returncode == 2 and "is empty" in done.stdout
