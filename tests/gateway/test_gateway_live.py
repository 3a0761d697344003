"""The gateway as deployed, on 127.0.0.1: real nginx + njs with the generated config, the real
vllm-router binary (IGW mode, cache_aware), the metrics exporter, stand-in OpenAI servers."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time

import pytest

from components.gateway.proxy import ProxyClient

from .harness import Gateway, Router, StandIn, openai_error, request, require_tools

CHAT_KEY = "sk-Chat-AbCdEf0123456789"
BATCH_KEY = "sk-Batch-ZyXw9876543210"
SLOW_KEY = "sk-Slow-QqRrSs000111222"
ALL_KEYS = (CHAT_KEY, BATCH_KEY, SLOW_KEY)
CHAT = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_tools()
    workdir = tmp_path_factory.mktemp("gateway")
    stand_ins = {"phi-a": StandIn("phi"), "phi-b": StandIn("phi"), "qwen": StandIn("qwen"),
                 "slow": StandIn("slow", stream_gap=0.4)}
    router = Router(workdir)
    gateway = None
    try:
        for stand_in in stand_ins.values():
            assert router.add_worker(stand_in.url)["worker"]["model_id"] == stand_in.model
        clients = [
            ProxyClient("chat-app", ("phi", "qwen"), rpm=6000, concurrency=8),
            ProxyClient("batch-jobs", ("qwen",), rpm=2, concurrency=4, burst=0),
            ProxyClient("slow-app", ("slow",), rpm=6000, concurrency=1),
        ]
        keys = {"chat-app": [CHAT_KEY], "batch-jobs": [BATCH_KEY], "slow-app": [SLOW_KEY]}
        gateway = Gateway(workdir, clients, ["phi", "qwen", "slow"], router.address, keys)
        yield {"gateway": gateway, "router": router, "stand_ins": stand_ins, "keys": keys}
    finally:
        if gateway is not None:
            gateway.stop()
        router.stop()
        for stand_in in stand_ins.values():
            stand_in.close()


def chat(gateway: Gateway, key: str | None, model: str, route: str = "/v1/chat/completions", **extra):
    body = {"model": model, **CHAT, **extra}
    return request(gateway.url + route, key=key, body=body)


def assert_no_key_seen(stack) -> None:
    for name, stand_in in stack["stand_ins"].items():
        with stand_in.seen.lock:
            for headers in stand_in.seen.headers:
                assert "authorization" not in headers, f"{name} saw an Authorization header"
                joined = json.dumps(headers)
                assert not any(key in joined for key in ALL_KEYS), f"{name} saw a key"


def test_routes_each_model_to_its_servers(stack):
    gateway, stand_ins = stack["gateway"], stack["stand_ins"]
    status, _, body = chat(gateway, CHAT_KEY, "qwen")
    assert status == 200 and json.loads(body)["served_by"] == stand_ins["qwen"].port
    status, _, body = chat(gateway, CHAT_KEY, "phi")
    assert status == 200 and json.loads(body)["served_by"] in (stand_ins["phi-a"].port, stand_ins["phi-b"].port)
    status, _, body = request(gateway.url + "/v1/embeddings", key=CHAT_KEY, body={"model": "qwen", "input": "x"})
    assert status == 200 and json.loads(body)["model"] == "qwen"
    status, _, body = request(gateway.url + "/v1/completions", key=CHAT_KEY, body={"model": "phi", "prompt": "x"})
    assert status == 200 and json.loads(body)["model"] == "phi"
    assert_no_key_seen(stack)


def test_unknown_model_is_openai_404(stack):
    status, _, body = chat(stack["gateway"], CHAT_KEY, "gpt-9")
    assert status == 404
    assert openai_error(body)["code"] == "model_not_found"


def test_models_listed_per_key(stack):
    gateway = stack["gateway"]
    for key, expected in ((CHAT_KEY, ["phi", "qwen"]), (BATCH_KEY, ["qwen"])):
        status, _, body = request(gateway.url + "/v1/models", key=key)
        assert status == 200
        payload = json.loads(body)
        assert payload["object"] == "list" and [m["id"] for m in payload["data"]] == expected
    assert request(gateway.url + "/v1/models")[0] == 401


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Bearer {CHAT_KEY.swapcase()}", f"Bearer {CHAT_KEY.upper()}",
                                    f"Bearer {CHAT_KEY}x", f"Bearer {CHAT_KEY[:-1]}", f"Basic {CHAT_KEY}", f"Bearer  {CHAT_KEY}"])
def test_wrong_or_case_flipped_key_is_401(stack, header):
    gateway = stack["gateway"]
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    headers = {"Content-Type": "application/json"} | ({"Authorization": header} if header else {})
    conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": "phi", **CHAT}), headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 401, header
    assert resp.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert openai_error(body)["code"] == "invalid_api_key"


def test_model_outside_allow_list_is_403(stack):
    status, _, body = chat(stack["gateway"], CHAT_KEY, "slow")
    assert status == 403
    assert openai_error(body)["code"] == "model_not_allowed"


def test_over_rpm_is_429_with_retry_after(stack):
    gateway = stack["gateway"]
    statuses = []
    for _ in range(3):
        status, headers, body = chat(gateway, BATCH_KEY, "qwen")
        statuses.append(status)
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    assert headers["retry-after"] == "30"  # 2 RPM: one request every 30 s
    error = openai_error(body)
    assert error["code"] == "rate_limit_exceeded" and "rpm" in error["message"]
    # Another client is not affected.
    assert chat(gateway, CHAT_KEY, "qwen")[0] == 200


def _stream(gateway: Gateway, key: str, model: str):
    """Yield (time.monotonic() at arrival, line) for each SSE line."""
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": model, "stream": True, **CHAT}),
                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    while line := resp.readline():
        if line.startswith(b"data:"):
            yield time.monotonic(), line.strip()
    conn.close()


def test_sse_passes_through_unbuffered(stack):
    seen = stack["stand_ins"]["slow"].seen
    before = len(seen.chunks_sent)
    events = list(_stream(stack["gateway"], SLOW_KEY, "slow"))
    assert events[-1][1] == b"data: [DONE]" and len(events) == 4
    # The stand-in sleeps 0.4 s after each event and only then writes [DONE]: unbuffered, the first
    # event reaches the client before [DONE] is even written (no timing threshold, load-proof).
    with seen.lock:
        done_written = seen.chunks_sent[before]
    assert events[0][0] < done_written, (events, done_written)
    assert_no_key_seen(stack)


def test_over_concurrency_is_429(stack):
    gateway = stack["gateway"]
    first = threading.Event()
    done = []

    def hold():
        for _, _line in _stream(gateway, SLOW_KEY, "slow"):
            first.set()
        done.append(True)

    holder = threading.Thread(target=hold)
    holder.start()
    assert first.wait(10)
    status, headers, body = chat(gateway, SLOW_KEY, "slow")
    holder.join(15)
    assert status == 429 and headers["retry-after"] == "1"
    assert "concurrency" in openai_error(body)["message"] and done == [True]


def test_key_rotation_without_restart(stack):
    gateway, keys = stack["gateway"], stack["keys"]
    master_pid = gateway.nginx.proc.pid
    new_key = "sk-Chat-Rotated-555666777"
    # An in-flight stream on another client's key survives both rotations.
    events: list = []
    inflight = threading.Thread(target=lambda: events.extend(_stream(gateway, SLOW_KEY, "slow")))
    inflight.start()

    gateway.write_keys(keys | {"chat-app": [CHAT_KEY, new_key]})  # overlap: both work
    assert chat(gateway, new_key, "phi")[0] == 200
    assert chat(gateway, CHAT_KEY, "phi")[0] == 200

    gateway.write_keys(keys | {"chat-app": [new_key]})  # revoke the old key
    assert chat(gateway, CHAT_KEY, "phi")[0] == 401
    assert chat(gateway, new_key, "phi")[0] == 200

    gateway.write_keys(keys)  # and back, for the other tests
    assert chat(gateway, new_key, "phi")[0] == 401
    inflight.join(15)
    assert events and events[-1][1] == b"data: [DONE]"
    assert gateway.nginx.proc.poll() is None and gateway.nginx.proc.pid == master_pid


def test_cache_aware_routing_keeps_a_prefix_on_one_replica(stack):
    gateway, stand_ins, router = stack["gateway"], stack["stand_ins"], stack["router"]
    prompt = [{"role": "system", "content": "You are a careful assistant. " * 40}, {"role": "user", "content": "q"}]
    served = {json.loads(chat(gateway, CHAT_KEY, "phi", messages=prompt)[2])["served_by"] for _ in range(6)}
    assert len(served) == 1 and served <= {stand_ins["phi-a"].port, stand_ins["phi-b"].port}
    with __import__("urllib.request").request.urlopen(f"http://127.0.0.1:{router.metrics_port}/metrics") as resp:
        metrics = resp.read().decode()
    hits = re.findall(r'vllm_router_prefix_routing_decisions_total\{policy="cache_aware",stage="regular",outcome="prefix_hit"\} (\d+)', metrics)
    assert hits and int(hits[0]) >= 5, metrics


def test_per_client_metrics_never_carry_a_key(stack):
    gateway = stack["gateway"]
    chat(gateway, CHAT_KEY, "qwen")
    chat(gateway, "not-a-key", "qwen")
    deadline = time.monotonic() + 5
    while True:
        metrics = gateway.metrics()
        if 'client="unauthenticated",model="",code="401"' in metrics and 'client="chat-app",model="qwen",code="200"' in metrics:
            break
        assert time.monotonic() < deadline, metrics
        time.sleep(0.05)
    assert 'slm_gateway_request_duration_seconds_count{client="chat-app"}' in metrics
    assert not any(key in metrics for key in ALL_KEYS + ("not-a-key",))
    log = (gateway.dir / "nginx.log").read_text()
    assert not any(key in log for key in ALL_KEYS)
