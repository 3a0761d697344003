"""Gateway overhead on this machine: stand-in direct vs vllm-router vs nginx+njs+router (the gateway).

Run through ``uv run python scripts/benchmark.py --gateway``; writes its block into docs/benchmarks.md.
Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from components.gateway.proxy import ProxyClient  # noqa: E402
from gateway.harness import Gateway, Router, StandIn, require_tools  # noqa: E402

START, END = "<!-- gateway-benchmark:start -->", "<!-- gateway-benchmark:end -->"
KEY = "sk-bench-0123456789abcdef"
BODY = json.dumps({"model": "phi", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}).encode()


def _latencies(port: int, n: int, auth: bool) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {KEY}"} if auth else {})
    out = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", body=BODY, headers=headers)
        resp = conn.getresponse()
        resp.read()
        out.append(time.perf_counter() - start)
        assert resp.status == 200, resp.status
    conn.close()
    return out


def _throughput(port: int, auth: bool, seconds: float, threads: int) -> float:
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {KEY}"} if auth else {})
        while time.perf_counter() < stop:
            conn.request("POST", "/v1/chat/completions", body=BODY, headers=headers)
            resp = conn.getresponse()
            resp.read()
            done[i] += resp.status == 200
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / seconds


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def _rotation_ms(gateway: Gateway, rounds: int) -> list[float]:
    """Time from the keys file being replaced until a new key is accepted (and the old one refused)."""
    out = []
    for i in range(rounds):
        new = f"sk-rotated-{i}-abcdef012345"
        start = time.perf_counter()
        gateway.write_keys({"bench": [new]})
        conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
        while True:
            conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {new}"})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                break
        out.append((time.perf_counter() - start) * 1000)
        conn.close()
    gateway.write_keys({"bench": [KEY]})
    return out


PATHS = {
    "direct": "direct to the stand-in",
    "router_rr": "vllm-router (`round_robin`) → stand-in",
    "router_ca": "vllm-router (`cache_aware`) → stand-in",
    "gateway_rr": "gateway: nginx + njs → vllm-router (`round_robin`) → stand-in",
    "gateway_ca": "gateway: nginx + njs → vllm-router (`cache_aware`, the default) → stand-in",
}


def run(requests: int = 1000, seconds: float = 5.0, threads: int = 8) -> dict:
    require_tools()
    workdir = Path(tempfile.mkdtemp(prefix="slm-gw-bench-"))
    stand_in = StandIn("phi")
    routers: dict[str, Router] = {}
    gateways: dict[str, Gateway] = {}
    try:
        for policy, short in (("round_robin", "rr"), ("cache_aware", "ca")):
            (workdir / short).mkdir()
            routers[short] = Router(workdir / short, policy=policy)
            routers[short].add_worker(stand_in.url)
            gateways[short] = Gateway(workdir / short, [ProxyClient("bench", ("phi",), rpm=10_000_000, concurrency=1000)],
                                      ["phi"], routers[short].address, {"bench": [KEY]})
        targets = {"direct": (stand_in.port, False)}
        for short in ("rr", "ca"):
            targets[f"router_{short}"] = (routers[short].port, False)
            targets[f"gateway_{short}"] = (gateways[short].port, True)
        for port, auth in targets.values():
            _latencies(port, 200, auth)  # warm-up
        lat = {name: _latencies(port, requests, auth) for name, (port, auth) in targets.items()}
        rps = {name: _throughput(port, auth, seconds, threads) for name, (port, auth) in targets.items()}
        rotation = _rotation_ms(gateways["ca"], 20)
        load = os.getloadavg()[0]
    finally:
        for gateway in gateways.values():
            gateway.stop()
        for router in routers.values():
            router.stop()
        stand_in.close()
    return {
        "requests": requests, "seconds": seconds, "threads": threads,
        "p50": {k: _pct(v, 0.5) for k, v in lat.items()},
        "p99": {k: _pct(v, 0.99) for k, v in lat.items()},
        "rps": rps,
        "rotation_ms": {"median": statistics.median(rotation), "max": max(rotation)},
        "load": load,
    }


def block(r: dict, machine: dict[str, str]) -> str:
    lines = [
        START,
        "## Gateway overhead (`scripts/benchmark.py --gateway`)",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['date']}. One stand-in OpenAI server "
        "(Python `http.server`, tests/gateway/harness.py) for model `phi`; the real vllm-router 0.1.17 (IGW mode) "
        "with it as its only worker, once per policy; real nginx 1.22 + njs with the generated gateway config "
        "(key hash lookup, model check, per-client limit_req/limit_conn, JSON access log to stdout and to the "
        "metrics exporter). Latency: "
        f"{r['requests']} sequential non-streaming chat requests on one keep-alive connection after 200 warm-up "
        f"requests; max req/s: {r['threads']} client threads on keep-alive connections for {r['seconds']:.0f} s "
        "(the Python client and the stand-in share the 2 cores with nginx and the router, so req/s is a floor). "
        f"1-minute load average at the end of the run: {r['load']:.1f} (other work on the machine inflates every figure).",
        "",
        "| path | p50 ms | p99 ms | max req/s |",
        "|---|---|---|---|",
    ]
    for key, label in PATHS.items():
        lines.append(f"| {label} | {r['p50'][key]:.2f} | {r['p99'][key]:.2f} | {r['rps'][key]:.0f} |")
    p50, p99 = r["p50"], r["p99"]
    lines += [
        "",
        f"Added by the gateway with the default `cache_aware` (gateway − direct): **p50 {p50['gateway_ca'] - p50['direct']:.2f} ms, "
        f"p99 {p99['gateway_ca'] - p99['direct']:.2f} ms** (goal < 2 ms p50: **{'met' if p50['gateway_ca'] - p50['direct'] < 2 else 'NOT met'}**). "
        f"With `round_robin`: p50 {p50['gateway_rr'] - p50['direct']:.2f} ms, p99 {p99['gateway_rr'] - p99['direct']:.2f} ms. "
        f"nginx + njs alone (gateway − router, round_robin): p50 {p50['gateway_rr'] - p50['router_rr']:.2f} ms. "
        "`cache_aware` costs two extra calls to the model server per request (`/v1/chat/completions/render`, "
        "404 on vLLM 0.11, then `/tokenize`: `src/backend/preprocess.rs:247,307-309`), here against the Python stand-in.",
        "",
        f"Key rotation: from the keys file being replaced (atomic rename, as the kubelet swaps a Secret volume) "
        f"until the new key is accepted: median {r['rotation_ms']['median']:.2f} ms, max {r['rotation_ms']['max']:.2f} ms "
        "over 20 rotations, with no reload (gateway.js reads the file on every request). In a cluster add the "
        "kubelet's Secret-volume refresh (its sync period plus cache TTL, about a minute by default).",
        END,
    ]
    return "\n".join(lines)


def write(text: str, out: Path) -> None:
    """Put the block in docs/benchmarks.md, replacing an older one, above the hand-written analysis."""
    current = out.read_text() if out.exists() else "# Benchmarks\n"
    if START in current:
        head, rest = current.split(START, 1)
        current = head + text + rest.split(END, 1)[1]
    else:
        marker = "<!-- hand-written analysis below"
        if marker in current:
            head, tail = current.split(marker, 1)
            current = head + text + "\n\n" + marker + tail
        else:
            current = current.rstrip("\n") + "\n\n" + text + "\n"
    out.write_text(current)
