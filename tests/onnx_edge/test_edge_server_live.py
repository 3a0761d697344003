"""The ONNX edge server as shipped (components/onnx_edge/server/server.py), run as its own process on
127.0.0.1 with the pinned onnxruntime-genai and a tiny model built by a fixture; everything over HTTP.

One server per module (module-scoped fixture) keeps this lean: model build ~0.3 s, start ~1 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from edge_http import KEY, MODEL_ID, error_of, request, sse_events
from tiny_model import CONTEXT_LENGTH

SERVER = Path(__file__).resolve().parents[2] / "components" / "onnx_edge" / "server" / "server.py"
CAP = 64  # SLM_MAX_LENGTH: prompt + completion tokens
CONCURRENCY, MAX_QUEUE = 2, 32
PROMPT = "hello there edge box"
CHAT = {"model": MODEL_ID, "messages": [{"role": "user", "content": PROMPT}]}


class LiveServer:
    def __init__(self, proc: subprocess.Popen, port: int, logs: list[dict], model_dir: Path) -> None:
        self.proc, self.port, self.logs, self.model_dir = proc, port, logs, model_dir

    def post(self, body, **kwargs):
        return request(self.port, "POST", "/v1/chat/completions", body, **kwargs)

    def get(self, path, **kwargs):
        return request(self.port, "GET", path, **kwargs)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    keys = tmp_path_factory.mktemp("edge-keys") / "api-keys"
    keys.write_text(f"# test key\n{KEY}\n")
    env = {**os.environ, "SLM_MODEL_DIR": str(tiny_model_dir), "SLM_MODEL_ID": MODEL_ID,
           "SLM_API_KEY_FILE": str(keys), "SLM_MAX_LENGTH": str(CAP), "SLM_CONCURRENCY": str(CONCURRENCY),
           "SLM_MAX_QUEUE": str(MAX_QUEUE), "SLM_QUEUE_TIMEOUT": "60", "SLM_HOST": "127.0.0.1", "SLM_PORT": "0"}
    proc = subprocess.Popen([sys.executable, str(SERVER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=tmp_path_factory.mktemp("edge-cwd"))
    logs: list[dict] = []
    listening = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = {"level": "raw", "msg": line.rstrip()}
            logs.append(record)
            if record.get("msg") == "listening":
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert listening.wait(30), f"server did not start: {logs}"
        live = LiveServer(proc, next(r["port"] for r in logs if r.get("msg") == "listening"), logs, tiny_model_dir)
        deadline = time.monotonic() + 30
        while live.get("/ready", key=None)[0].status != 200:
            assert time.monotonic() < deadline and proc.poll() is None, f"model never became ready: {logs}"
            time.sleep(0.05)
        yield live
        assert proc.poll() is None, f"the server died during the tests: {logs[-5:]}"
    finally:
        proc.terminate()
        proc.wait(10)


def _prompt_tokens(model_dir: Path, content: str) -> int:
    """Token count of the chat-templated prompt, from the model's own tokenizer.json."""
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    return len(tok.encode(f"<|user|>{content}<|end|><|assistant|>").ids)


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{"))


# --------------------------------------------------------------------------- health, auth, models
def test_health_and_readiness_need_no_key(server):
    assert server.get("/health", key=None)[0].status == 200
    resp, body = server.get("/ready", key=None)
    assert resp.status == 200 and json.loads(body) == {"status": "ready", "model": MODEL_ID}


@pytest.mark.parametrize("key", [None, "wrong-key", KEY.upper(), KEY + "x", KEY[:-1]])
def test_every_api_route_needs_the_exact_key(server, key):
    for method, path, body in (("POST", "/v1/chat/completions", CHAT), ("GET", "/v1/models", None), ("GET", "/metrics", None)):
        resp, payload = request(server.port, method, path, body, key=key)
        assert resp.status == 401, (path, key)
        assert resp.getheader("WWW-Authenticate") == "Bearer"
        assert error_of(payload)["code"] == "invalid_api_key"


def test_models_lists_the_served_model(server):
    resp, body = server.get("/v1/models")
    assert resp.status == 200
    data = json.loads(body)["data"]
    assert [(m["id"], m["object"], m["max_model_len"]) for m in data] == [(MODEL_ID, "model", CAP)]


# --------------------------------------------------------------------------- completions
def test_non_streaming_completion_with_usage(server):
    resp, body = server.post({**CHAT, "max_tokens": 5})
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    data = json.loads(body)
    assert data["object"] == "chat.completion" and data["model"] == MODEL_ID
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] == "length"  # the tiny model never emits EOS
    prompt = _prompt_tokens(server.model_dir, PROMPT)  # the chat template really was applied
    assert data["usage"] == {"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5}


def test_greedy_is_deterministic_and_streaming_matches_it(server):
    whole = [json.loads(server.post({**CHAT, "max_tokens": 8, "temperature": 0})[1]) for _ in range(2)]
    assert whole[0]["choices"][0]["message"] == whole[1]["choices"][0]["message"]
    resp, body = server.post({**CHAT, "max_tokens": 8, "stream": True, "stream_options": {"include_usage": True}})
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    events = sse_events(body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == whole[0]["choices"][0]["message"]["content"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole[0]["usage"]


def test_streaming_without_usage_still_ends_with_done(server):
    events = sse_events(server.post({**CHAT, "max_tokens": 2, "stream": True})[1])
    assert events[-1] == "[DONE]" and all("usage" not in json.loads(e) for e in events[:-1])


def test_max_tokens_and_the_length_cap(server):
    prompt = _prompt_tokens(server.model_dir, PROMPT)
    for body, completion in (({**CHAT, "max_tokens": 3}, 3), ({**CHAT, "max_completion_tokens": 2}, 2),
                             (CHAT, CAP - prompt), ({**CHAT, "max_tokens": 10_000}, CAP - prompt)):
        resp, payload = server.post(body)
        assert resp.status == 200, payload
        assert json.loads(payload)["usage"]["completion_tokens"] == completion, body
    assert CAP < CONTEXT_LENGTH  # the cap, not the model's context, bounds max_length


def test_sampling_options_reach_the_engine(server):
    sampled = {**CHAT, "max_tokens": 12, "temperature": 1.5, "top_p": 0.9, "top_k": 50, "seed": 2**31 - 1}
    first, second = (json.loads(server.post(sampled)[1]) for _ in range(2))
    assert first["choices"][0]["message"] == second["choices"][0]["message"]  # same seed, same text
    others = {json.dumps(json.loads(server.post({**sampled, "seed": seed})[1])["choices"][0]["message"]) for seed in range(1, 6)}
    greedy = json.loads(server.post({**CHAT, "max_tokens": 12})[1])["choices"][0]["message"]
    assert len(others | {json.dumps(greedy)}) > 1  # seeds and sampling change the text: the options are applied


@pytest.mark.parametrize(("extra", "param", "fragment"), [
    ({"seed": 2**31}, "seed", "between 0 and 2147483647"),
    ({"seed": -1}, "seed", "between 0 and 2147483647"),
    ({"top_k": 10**6}, "top_k", "vocabulary size"),
    ({"top_k": 0}, "top_k", "between 1"),
    ({"top_p": 1.5}, "top_p", "between 0 and 1"),
    ({"temperature": -0.1}, "temperature", "between 0 and 2"),
    ({"temperature": "hot"}, "temperature", "must be a number"),
    ({"stop": ["\n"]}, "stop", "not supported"),
    ({"presence_penalty": 0.5}, "presence_penalty", "not supported"),
    ({"logprobs": True}, "logprobs", "not supported"),
])
def test_sampling_options_the_engine_cannot_take_are_400(server, extra, param, fragment):
    resp, body = server.post({**CHAT, "temperature": 0.7, **extra})
    assert resp.status == 400, body
    err = error_of(body)
    assert err["param"] == param and fragment in err["message"], err


def test_neutral_values_of_unsupported_options_are_accepted(server):
    body = {**CHAT, "max_tokens": 1, "stop": None, "presence_penalty": 0, "frequency_penalty": 0.0, "logprobs": False}
    assert server.post(body)[0].status == 200


def test_prompt_over_the_context_limit_is_400_json(server):
    long = {**CHAT, "messages": [{"role": "user", "content": " ".join(["edge"] * CAP)}]}
    resp, body = server.post(long)
    assert resp.status == 400 and resp.getheader("Content-Type") == "application/json"
    err = error_of(body)
    assert err["code"] == "context_length_exceeded" and f"limit is {CAP} tokens" in err["message"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"messages": [', b"\xff\xfe", b"[1, 2]", b""])
def test_malformed_bodies_are_400_json(server, raw):
    resp, body = server.post(None, raw=raw)
    assert resp.status == 400, body
    assert error_of(body)["type"] == "invalid_request_error"


# --------------------------------------------------------------------------- load, metrics, logs
def test_twenty_concurrent_requests_all_answered_and_still_healthy(server):
    body = {**CHAT, "max_tokens": 16, "stream": False}

    def call(i: int) -> int:
        streamed = {**body, "stream": i % 2 == 1}
        resp, payload = server.post(streamed, timeout=60)
        if streamed["stream"]:
            assert sse_events(payload)[-1] == "[DONE]"
        return resp.status

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(call, range(20)))
    assert statuses == [200] * 20  # 2 running + up to 32 queued: nobody is refused, nobody reset
    assert server.get("/health", key=None)[0].status == 200
    assert server.get("/ready", key=None)[0].status == 200
    assert server.post({**CHAT, "max_tokens": 1})[0].status == 200


def test_metrics_count_requests_tokens_and_errors(server):
    before = server.get("/metrics")[1]
    server.post({**CHAT, "max_tokens": 4})
    server.post({**CHAT, "max_tokens": 3, "stream": True})
    server.post(None, raw=b"{oops")
    resp, after = server.get("/metrics")
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    ok = 'slm_onnx_requests_total{route="/v1/chat/completions",code="200"}'
    bad = 'slm_onnx_requests_total{route="/v1/chat/completions",code="400"}'
    assert _metric(after, ok) - _metric(before, ok) >= 2 and _metric(after, bad) - _metric(before, bad) >= 1
    assert _metric(after, "slm_onnx_generation_tokens_total") - _metric(before, "slm_onnx_generation_tokens_total") >= 7
    assert _metric(after, "slm_onnx_prompt_tokens_total") > _metric(before, "slm_onnx_prompt_tokens_total")
    assert _metric(after, "slm_onnx_request_duration_seconds_count") >= 2
    assert 'slm_onnx_errors_total{kind="engine"} 0' in after  # validation kept every bad option from the engine
    assert "slm_onnx_model_loaded 1" in after


def test_logs_are_json_lines_without_key_or_prompt(server):
    server.post({**CHAT, "max_tokens": 2})
    time.sleep(0.1)
    assert not [r for r in server.logs if r.get("level") == "raw"], "non-JSON output on stdout"
    requests = [r for r in server.logs if r.get("msg") == "request" and r.get("path") == "/v1/chat/completions"]
    assert requests and {"status", "duration_ms", "prompt_tokens"} <= set(requests[-1])
    text = json.dumps(server.logs)
    assert KEY not in text and PROMPT not in text
    assert not [r for r in server.logs if r.get("level") == "error"]
