"""HTTP helpers for the ONNX edge server tests (not a test module)."""

from __future__ import annotations

import http.client
import json

KEY = "edge-key-0123456789abcdef"
MODEL_ID = "tiny-llama"


def request(port: int, method: str, path: str, body=None, *, key: str | None = KEY, raw: bytes | None = None,
            headers: dict | None = None, timeout: float = 30) -> tuple[http.client.HTTPResponse, str]:
    """One HTTP request on 127.0.0.1; returns the response and its decoded body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = dict(headers or {})
    if key:
        hdrs["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp, resp.read().decode()
    finally:
        conn.close()


def sse_events(body: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events), events
    return [e[len("data: "):] for e in events]


def error_of(body: str) -> dict:
    """The OpenAI error object of a JSON error body (asserting its exact shape)."""
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    return err
