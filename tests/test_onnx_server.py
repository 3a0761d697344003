"""The ONNX edge server's HTTP layer (fake engine, in-process on 127.0.0.1) and its onnxruntime-genai adapter (stub og)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from components.onnx_edge.server import server as srv

KEY = "test-key-0123456789"


class FakeEngine:
    """Tokens = words; generation yields 'tok0 ', 'tok1 ', ... until max_length or `stop_after`."""

    def __init__(self, stop_after: int = 5, gate: threading.Event | None = None, fail_load: bool = False) -> None:
        self.stop_after = stop_after
        self.gate = gate
        self.fail_load = fail_load
        self.calls: list[tuple[int, int]] = []
        self.loaded = False

    def load(self) -> None:
        if self.fail_load:
            raise RuntimeError("genai_config.json not found")
        self.loaded = True

    def encode_chat(self, messages):
        return [1] * sum(len(m["content"].split()) for m in messages)

    def generate(self, prompt_tokens, max_length, sampling) -> Iterator[str]:
        self.calls.append((len(prompt_tokens), max_length))
        if self.gate is not None:
            assert self.gate.wait(10)
        for i in range(min(self.stop_after, max_length - len(prompt_tokens))):
            yield f"tok{i} "


def _serve(engine, *, load=True, **config):
    state = srv.ServerState(srv.ServerConfig(model_id="phi-4-mini-instruct", api_keys=(KEY,), **config), engine)
    if load:
        state.load_model()
    server = srv.build_server(state, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


@pytest.fixture
def running(request):
    servers = []

    def start(engine=None, **kwargs):
        server, state = _serve(engine or FakeEngine(), **kwargs)
        servers.append(server)
        return server.server_address[1], state

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _req(port, method, path, body=None, key=KEY, raw=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    hdrs = dict(headers or {})
    if key:
        hdrs["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    payload = resp.read().decode()
    conn.close()
    return resp, payload


CHAT = {"model": "phi-4-mini-instruct", "messages": [{"role": "user", "content": "hello there edge box"}]}


# --------------------------------------------------------------------------- auth
def test_chat_without_key_is_401_openai_error(running):
    port, _ = running()
    resp, body = _req(port, "POST", "/v1/chat/completions", CHAT, key=None)
    assert resp.status == 401
    assert resp.getheader("WWW-Authenticate") == "Bearer"
    err = json.loads(body)["error"]
    assert err["type"] == "authentication_error" and err["code"] == "invalid_api_key"


def test_wrong_key_is_401_on_models_and_metrics(running):
    port, _ = running()
    for path in ("/v1/models", "/metrics"):
        resp, _ = _req(port, "GET", path, key="wrong")
        assert resp.status == 401, path


def test_health_and_ready_are_open(running):
    port, _ = running()
    assert _req(port, "GET", "/health", key=None)[0].status == 200
    assert _req(port, "GET", "/ready", key=None)[0].status == 200


def test_key_file_multiple_keys_and_comments(tmp_path):
    path = tmp_path / "keys"
    path.write_text("# rotated 2025\nold-key\n\nnew-key\n")
    assert srv.load_api_keys(str(path)) == ("old-key", "new-key")
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no key"):
        srv.load_api_keys(str(empty))


def test_server_refuses_to_run_without_keys():
    with pytest.raises(ValueError, match="refuses to run unauthenticated"):
        srv.ServerConfig(model_id="m", api_keys=())


# --------------------------------------------------------------------------- readiness
def test_ready_is_503_before_load_and_200_after(running):
    engine = FakeEngine()
    port, state = running(engine, load=False)
    resp, body = _req(port, "GET", "/ready", key=None)
    assert resp.status == 503 and json.loads(body)["error"]["code"] == "not_ready"
    assert _req(port, "GET", "/health", key=None)[0].status == 200  # alive while loading
    resp, body = _req(port, "POST", "/v1/chat/completions", CHAT)
    assert resp.status == 503 and resp.getheader("Retry-After") == "5"
    state.load_model()
    assert _req(port, "GET", "/ready", key=None)[0].status == 200
    assert _req(port, "POST", "/v1/chat/completions", CHAT)[0].status == 200


def test_failed_load_fails_liveness(running):
    port, _ = running(FakeEngine(fail_load=True))
    resp, body = _req(port, "GET", "/health", key=None)
    assert resp.status == 500 and "genai_config.json not found" in body
    assert _req(port, "GET", "/ready", key=None)[0].status == 503


# --------------------------------------------------------------------------- completions
def test_non_streaming_completion_and_usage(running):
    port, _ = running()
    resp, body = _req(port, "POST", "/v1/chat/completions", CHAT)
    assert resp.status == 200
    data = json.loads(body)
    assert data["object"] == "chat.completion" and data["model"] == "phi-4-mini-instruct"
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "tok0 tok1 tok2 tok3 tok4 "}
    assert choice["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}


def test_max_tokens_maps_to_capped_max_length(running):
    engine = FakeEngine(stop_after=1000)
    port, _ = running(engine, max_length=64)
    resp, body = _req(port, "POST", "/v1/chat/completions", {**CHAT, "max_tokens": 3})
    assert engine.calls[-1] == (4, 7)  # prompt 4 + max_tokens 3
    assert json.loads(body)["choices"][0]["finish_reason"] == "length"
    _req(port, "POST", "/v1/chat/completions", {**CHAT, "max_tokens": 100000})
    assert engine.calls[-1] == (4, 64)  # never above the cap
    _req(port, "POST", "/v1/chat/completions", CHAT)
    assert engine.calls[-1] == (4, 64)  # no max_tokens: the cap, not the model's full context
    _req(port, "POST", "/v1/chat/completions", {**CHAT, "max_completion_tokens": 2})
    assert engine.calls[-1] == (4, 6)


def test_prompt_longer_than_cap_is_400(running):
    port, _ = running(max_length=4)
    resp, body = _req(port, "POST", "/v1/chat/completions", CHAT)
    assert resp.status == 400
    err = json.loads(body)["error"]
    assert err["code"] == "context_length_exceeded" and "limit is 4 tokens" in err["message"]


def test_streaming_sse_format(running):
    port, _ = running(engine=FakeEngine(stop_after=3))
    resp, body = _req(port, "POST", "/v1/chat/completions",
                      {**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "tok0 tok1 tok2 "
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


# --------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"messages": []}, 400, "'messages' must be a non-empty list"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role must be one of"),
        ({"messages": [{"role": "user", "content": 5}]}, 400, "must be a string or a list of text parts"),
        ({**CHAT, "max_tokens": 0}, 400, "'max_tokens' must be an integer between 1"),
        ({**CHAT, "max_tokens": "10"}, 400, "'max_tokens' must be an integer"),
        ({**CHAT, "temperature": 3}, 400, "'temperature' must be a number between 0 and 2"),
        ({**CHAT, "stream": "yes"}, 400, "'stream' must be a boolean"),
        ({**CHAT, "n": 2}, 400, "only n=1 is supported"),
        ({**CHAT, "tools": [{"type": "function"}]}, 400, "tool calling is not supported"),
        ({**CHAT, "model": "gpt-4"}, 404, "does not exist; this server serves 'phi-4-mini-instruct'"),
        ([1, 2], 400, "request body must be a JSON object"),
    ],
)
def test_bad_requests_get_openai_errors(running, body, status, fragment):
    port, _ = running()
    resp, payload = _req(port, "POST", "/v1/chat/completions", body)
    assert resp.status == status
    err = json.loads(payload)["error"]
    assert fragment in err["message"]
    assert set(err) == {"message", "type", "param", "code"}


def test_invalid_json_and_oversized_body(running):
    port, _ = running()
    resp, payload = _req(port, "POST", "/v1/chat/completions", raw=b"{not json")
    assert resp.status == 400 and "not valid JSON" in json.loads(payload)["error"]["message"]
    resp, _ = _req(port, "POST", "/v1/chat/completions", raw=b"x", headers={"Content-Length": str(srv.MAX_BODY_BYTES + 1)})
    assert resp.status == 413


def test_unknown_route_is_404(running):
    port, _ = running()
    assert _req(port, "GET", "/v1/embeddings")[0].status == 404


# --------------------------------------------------------------------------- concurrency
def test_concurrency_limit_queue_full_is_429(running):
    gate = threading.Event()
    engine = FakeEngine(stop_after=1, gate=gate)
    port, state = running(engine, concurrency=1, max_queue=1, queue_timeout=10)
    results: list[int] = []

    def call():
        results.append(_req(port, "POST", "/v1/chat/completions", CHAT)[0].status)

    first = threading.Thread(target=call)
    first.start()
    _wait(lambda: state.admission.running == 1)
    second = threading.Thread(target=call)
    second.start()
    _wait(lambda: state.admission.waiting == 1)
    resp, body = _req(port, "POST", "/v1/chat/completions", CHAT)
    assert resp.status == 429 and json.loads(body)["error"]["code"] == "queue_full"
    assert resp.getheader("Retry-After") == "2"
    gate.set()
    first.join(10)
    second.join(10)
    assert results == [200, 200]


def test_queue_timeout_is_503(running):
    gate = threading.Event()
    port, state = running(FakeEngine(stop_after=1, gate=gate), concurrency=1, max_queue=4, queue_timeout=0.2)
    first = threading.Thread(target=lambda: _req(port, "POST", "/v1/chat/completions", CHAT))
    first.start()
    _wait(lambda: state.admission.running == 1)
    resp, body = _req(port, "POST", "/v1/chat/completions", CHAT)
    assert resp.status == 503 and json.loads(body)["error"]["code"] == "queue_timeout"
    gate.set()
    first.join(10)


def test_metrics_text_format(running):
    port, _ = running()
    _req(port, "POST", "/v1/chat/completions", CHAT)
    resp, body = _req(port, "GET", "/metrics")
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    assert 'slm_onnx_requests_total{route="/v1/chat/completions",code="200"} 1' in body
    assert "slm_onnx_generation_tokens_total 5" in body
    assert 'slm_onnx_request_duration_seconds_bucket{le="+Inf"} 1' in body
    for name in srv.METRIC_NAMES:
        assert f"# TYPE {name} " in body


def test_logs_are_json_without_secrets(running, capsys):
    port, _ = running()
    _req(port, "POST", "/v1/chat/completions", CHAT)
    time.sleep(0.05)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    request_logs = [line for line in lines if line["msg"] == "request" and line["path"] == "/v1/chat/completions"]
    assert request_logs and request_logs[-1]["status"] == 200 and request_logs[-1]["prompt_tokens"] == 4
    text = json.dumps(lines)
    assert KEY not in text and "hello there edge box" not in text


def _wait(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


# --------------------------------------------------------------------------- real adapter with a stub og
class _StubOg:
    def __init__(self) -> None:
        self.log: list[tuple] = []
        stub = self

        class Config:
            def __init__(self, path):
                stub.log.append(("Config", path))

            def clear_providers(self):
                stub.log.append(("clear_providers",))

            def append_provider(self, name):
                stub.log.append(("append_provider", name))

        class Model:
            def __init__(self, config):
                stub.log.append(("Model", type(config).__name__))

        class Tokenizer:
            def __init__(self, model):
                stub.log.append(("Tokenizer",))

            def apply_chat_template(self, messages, *, add_generation_prompt=True):
                stub.log.append(("apply_chat_template", json.loads(messages), add_generation_prompt))
                return "<|user|>hi<|end|><|assistant|>"

            def encode(self, prompt):
                return [11, 12, 13]

            def create_stream(self):
                return SimpleNamespace(decode=lambda token: f"<{token}>")

        class GeneratorParams:
            def __init__(self, model):
                self.options = {}

            def set_search_options(self, **kwargs):
                stub.log.append(("set_search_options", kwargs))

        class Generator:
            def __init__(self, model, params):
                self.count = 0

            def append_tokens(self, tokens):
                stub.log.append(("append_tokens", list(tokens)))

            def is_done(self):
                return self.count >= 2

            def generate_next_token(self):
                self.count += 1

            def get_next_tokens(self):
                return [100 + self.count]

        self.Config, self.Model, self.Tokenizer = Config, Model, Tokenizer
        self.GeneratorParams, self.Generator = GeneratorParams, Generator


def test_adapter_calls_onnxruntime_genai_api():
    og = _StubOg()
    engine = srv.OnnxGenaiEngine("/models/phi/cpu", "cpu", og_module=og)
    engine.load()
    assert og.log[:4] == [("Config", "/models/phi/cpu"), ("clear_providers",), ("Model", "Config"), ("Tokenizer",)]
    messages = [{"role": "user", "content": "hi"}]
    tokens = engine.encode_chat(messages)
    assert tokens == [11, 12, 13]
    assert ("apply_chat_template", messages, True) in og.log
    pieces = list(engine.generate(tokens, 256, srv.Sampling()))
    assert pieces == ["<101>", "<102>"]
    assert ("set_search_options", {"max_length": 256, "do_sample": False}) in og.log
    assert ("append_tokens", [11, 12, 13]) in og.log


def test_adapter_sampling_and_provider():
    og = _StubOg()
    engine = srv.OnnxGenaiEngine("/m", "cuda", og_module=og)
    engine.load()
    assert ("append_provider", "cuda") in og.log
    list(engine.generate([1], 64, srv.Sampling(temperature=0.7, top_p=0.9, top_k=40, seed=7)))
    assert ("set_search_options", {"max_length": 64, "do_sample": True, "temperature": 0.7, "top_p": 0.9,
                                   "top_k": 40, "random_seed": 7}) in og.log


def test_adapter_rejects_unknown_provider():
    with pytest.raises(ValueError, match="execution provider 'tpu'"):
        srv.OnnxGenaiEngine("/m", "tpu")
