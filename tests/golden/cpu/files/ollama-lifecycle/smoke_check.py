"""Post-deploy smoke test of one OpenAI-compatible endpoint, through its authenticating proxy.

Runs in the smoke Job after the serving resources are ready (standard library only, python3 >= 3.9).
Checks, in order, and stops at the first failure with one ``smoke: FAIL`` line saying why:

1. with ``--key-file``: a request without a key is refused (401/403), so the proxy authenticates;
2. ``GET <base>/models`` with the client key (``Authorization: Bearer``, read from ``--key-file``, the
   mounted API-key Secret; no header for an endpoint without authentication) answers 200 and lists every
   ``--model``;
3. one short ``POST <base>/chat/completions`` per model (``max_tokens`` small, temperature 0) answers 200
   with a choice that has a message.

Connection errors and 502/503/504 are retried until ``--wait`` seconds have passed (a Service can lag
behind a Deployment that just became ready); anything else fails at once. Exit 0 on success (one JSON
summary line), 1 on a failed check, 2 on bad usage (an unreadable key file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

RETRYABLE = {502, 503, 504}
PROMPT = "Reply with one word: ok"


class SmokeFailure(Exception):
    pass


def log(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def _call(method: str, url: str, key: str | None, body: dict | None, timeout: float) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"User-Agent": "slm-deploy-smoke"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def call(method: str, url: str, key: str | None, body: dict | None, *, timeout: float, deadline: float) -> tuple[int, bytes]:
    """One request; retries connection errors and 502/503/504 until the deadline."""
    while True:
        try:
            status, payload = _call(method, url, key, body, timeout)
            if status not in RETRYABLE:
                return status, payload
            why = f"HTTP {status}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            why = f"{type(reason).__name__}: {reason}"
        if time.monotonic() >= deadline:
            raise SmokeFailure(f"{method} {url}: still failing after the wait budget ({why})")
        log(f"waiting: {method} {url}: {why}")
        time.sleep(min(5.0, max(0.2, deadline - time.monotonic())))


def _json(payload: bytes, what: str) -> dict:
    try:
        data = json.loads(payload)
    except ValueError:
        raise SmokeFailure(f"{what}: the answer is not JSON: {payload[:200]!r}") from None
    if not isinstance(data, dict):
        raise SmokeFailure(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _detail(payload: bytes) -> str:
    text = payload[:300].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def run(base: str, key: str | None, models: list[str], *, timeout: float, wait: float, max_tokens: int) -> dict:
    deadline = time.monotonic() + wait
    base = base.rstrip("/")
    if key is not None:
        status, payload = call("GET", f"{base}/models", None, None, timeout=timeout, deadline=deadline)
        if status not in (401, 403):
            raise SmokeFailure(f"GET {base}/models without a key answered HTTP {status}, not 401/403: the endpoint is not authenticated")
        log(f"ok unauthenticated GET /models refused (HTTP {status})")

    status, payload = call("GET", f"{base}/models", key, None, timeout=timeout, deadline=deadline)
    if status != 200:
        hint = " (the proxy refused the client key)" if status in (401, 403) else ""
        raise SmokeFailure(f"GET {base}/models answered HTTP {status}{hint}{_detail(payload)}")
    listed = [m.get("id") for m in _json(payload, "GET /models").get("data") or [] if isinstance(m, dict)]
    missing = [m for m in models if m not in listed]
    if missing:
        raise SmokeFailure(f"GET {base}/models lists {', '.join(map(str, listed)) or 'no model'}; missing {', '.join(missing)}")
    log(f"ok GET /models lists {', '.join(map(str, listed))}")

    latencies = {}
    for model in models:
        body = {"model": model, "messages": [{"role": "user", "content": PROMPT}],
                "max_tokens": max_tokens, "temperature": 0}
        started = time.monotonic()
        status, payload = call("POST", f"{base}/chat/completions", key, body, timeout=timeout, deadline=deadline)
        elapsed = time.monotonic() - started
        if status != 200:
            raise SmokeFailure(f"POST {base}/chat/completions (model {model}) answered HTTP {status}{_detail(payload)}")
        choices = _json(payload, "POST /chat/completions").get("choices")
        if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
            raise SmokeFailure(f"POST {base}/chat/completions (model {model}) returned no choice with a message: {payload[:200]!r}")
        content = choices[0]["message"].get("content") or ""
        latencies[model] = round(elapsed, 3)
        log(f"ok POST /chat/completions {model} in {elapsed:.2f} s: {content.strip()[:60]!r}")
    return {"result": "passed", "baseUrl": base, "models": models, "chatSeconds": latencies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the OpenAI base URL through the proxy, ending in /v1")
    parser.add_argument("--model", action="append", required=True, help="a served model name (repeatable)")
    parser.add_argument("--key-file", help="file holding the client API key (a mounted Secret); omit for an endpoint without authentication")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to keep retrying 502/503/504 and connection errors")
    parser.add_argument("--max-tokens", type=int, default=8)
    args = parser.parse_args(argv)
    key = None
    if args.key_file is not None:
        try:
            with open(args.key_file, encoding="utf-8") as fh:
                key = fh.read().strip()
        except OSError as exc:
            log(f"ERROR cannot read the client key file {args.key_file}: {exc}")
            return 2
        if not key:
            log(f"ERROR the client key file {args.key_file} is empty")
            return 2
    try:
        summary = run(args.base_url, key, args.model, timeout=args.timeout, wait=args.wait, max_tokens=args.max_tokens)
    except SmokeFailure as exc:
        log(f"FAIL {exc}")
        print(json.dumps({"result": "failed", "baseUrl": args.base_url, "reason": str(exc)}, sort_keys=True), flush=True)
        return 1
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
