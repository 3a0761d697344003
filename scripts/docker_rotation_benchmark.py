"""Key rotation on Docker, measured: the named-client proxy's generated Docker files (Ollama's dev stack with
``apiClients``) in real nginx + njs on 127.0.0.1, following docs/gateway.md "Rotation on Docker".

For each procedure and each of ``--rounds`` rotations (the keys file swaps between two keys of one client):
* how long after the keys file was written the new key is accepted (first 200 with it),
* how long until the revoked key is refused (first 401 with it),
* whether streams that started with the revoked key before the write complete (``--streams`` per rotation, each
  three SSE chunks 0.2 s apart from a stand-in server; a dropped or cut stream counts as dropped).

Procedures:
* ``compose-in-place``: the compose export's file secret ``secrets/<proxy>-clients-keys`` is bind-mounted into the
  proxy (nginx runs in its own mount namespace with that bind mount, as Docker does); the file is overwritten in
  place (``cat new > secrets/...``): the documented procedure.
* ``compose-rename``: the same bind mount, the file replaced by a rename (``mv``): the trap the procedure avoids;
  the bind mount keeps the old file, so it is reported as never picked up within ``--timeout``.
* ``volume-replace``: the keys file replaced (atomic rename) in a directory the proxy reads, as ``docker cp`` into
  the Pulumi-managed proxy's config volume replaces it (and as the kubelet swaps a Secret volume).

Not a test: nothing here asserts a speed. Run: ``uv run python scripts/docker_rotation_benchmark.py [--write]``
(``--write`` puts the block into docs/benchmarks.md). Needs nginx + njs (./dev test installs them) and root or
user namespaces for ``unshare --mount``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.auth_proxy import NAMED_CONF_DIR  # noqa: E402
from components.gateway.proxy import keys_file_text  # noqa: E402
from tests.gateway.harness import StandIn, require_tools  # noqa: E402
from tests.gateway.named_proxy import NamedProxy  # noqa: E402
from tests.gateway.test_docker_rotation import PHI, docker_proxy_files  # noqa: E402

START, END = "<!-- docker-rotation:start -->", "<!-- docker-rotation:end -->"
KEYS = ("sk-Rot-A-0123456789abcdef-ABCDEF-01", "sk-Rot-B-fedcba9876543210-ZYXWVU-02")
BODY = json.dumps({"model": PHI, "messages": [{"role": "user", "content": "hi"}]}).encode()
STREAM_BODY = json.dumps({"model": PHI, "messages": [{"role": "user", "content": "hi"}], "stream": True}).encode()


def _status(conn: http.client.HTTPConnection, key: str) -> int:
    conn.request("POST", "/v1/chat/completions", body=BODY,
                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def _until(port: int, key: str, wanted: int, t0_box: list[float], ready: threading.Event, go: threading.Event,
           timeout: float, out: dict, name: str) -> None:
    """Poll with ``key`` on one keep-alive connection from the write on until the answer is ``wanted``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    _status(conn, key)  # connection open and warm before the write
    ready.set()
    go.wait()
    while True:
        status = _status(conn, key)
        now = time.perf_counter()
        if status == wanted:
            out[name] = (now - t0_box[0]) * 1000
            break
        if now - t0_box[0] > timeout:
            out[name] = None
            break
    conn.close()


def _stream(port: int, key: str, out: list[bool]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v1/chat/completions", body=STREAM_BODY,
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        out.append(resp.status == 200 and body.count(b"chat.completion.chunk") == 3 and body.rstrip().endswith(b"[DONE]"))
    except (OSError, http.client.HTTPException):
        out.append(False)
    finally:
        conn.close()


def _rotate(proxy: NamedProxy, procedure: str, old: str, new: str, streams: int, timeout: float) -> dict:
    text = keys_file_text({"chat-app": [new]})
    completed: list[bool] = []
    stream_threads = [threading.Thread(target=_stream, args=(proxy.port, old, completed)) for _ in range(streams)]
    for t in stream_threads:
        t.start()
    time.sleep(0.1)  # the streams are in flight (each takes about 0.6 s)
    found: dict = {}
    t0: list[float] = [0.0]
    go = threading.Event()
    readies = [threading.Event(), threading.Event()]
    pollers = [threading.Thread(target=_until, args=(proxy.port, new, 200, t0, readies[0], go, timeout, found, "new")),
               threading.Thread(target=_until, args=(proxy.port, old, 401, t0, readies[1], go, timeout, found, "old"))]
    for t in pollers:
        t.start()
    for r in readies:
        r.wait(10)
    if procedure == "compose-in-place":
        with proxy.keys_source.open("w") as fh:
            fh.write(text)
    elif procedure == "compose-rename":
        staged = proxy.keys_source.with_suffix(".new")
        staged.write_text(text)
        staged.replace(proxy.keys_source)
    else:
        proxy.write_keys(text)
    t0[0] = time.perf_counter()
    go.set()
    for t in pollers + stream_threads:
        t.join(timeout + 30)
    return {"new_ms": found.get("new"), "old_ms": found.get("old"), "streams": streams,
            "streams_ok": sum(completed)}


def _baseline_ms(port: int, key: str, n: int = 200) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        _status(conn, key)
        times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return statistics.median(times)


def run(rounds: int = 20, streams: int = 4, timeout: float = 2.0) -> dict:
    require_tools()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for procedure in ("compose-in-place", "compose-rename", "volume-replace"):
            work = Path(tmp) / procedure
            stand_in = StandIn("ollama", stream_gap=0.2)
            secret = work / "secrets" / "ollama-auth-proxy-clients-keys"
            secret.parent.mkdir(parents=True)
            proxy = NamedProxy(work / "nginx", docker_proxy_files(), conf_dir=NAMED_CONF_DIR,
                               keys_file=f"{NAMED_CONF_DIR}/clients.keys", upstream_port=stand_in.port,
                               keys={"chat-app": [KEYS[0]]},
                               keys_bind_source=secret if procedure.startswith("compose") else None)
            try:
                baseline = _baseline_ms(proxy.port, KEYS[0])
                n = rounds if procedure != "compose-rename" else 3
                runs = []
                for i in range(n):
                    old, new = KEYS[i % 2], KEYS[(i + 1) % 2]
                    if procedure == "compose-rename" and i:  # the bind mount never changes: keep rotating from A
                        old, new = KEYS[0], f"sk-Rot-C{i}-0123456789abcdef-ABCD"
                    runs.append(_rotate(proxy, procedure, old, new, streams, timeout))
                results[procedure] = {"baseline_ms": baseline, "runs": runs, "nginx_pid_unchanged": proxy.nginx.proc.poll() is None}
            finally:
                proxy.stop()
                stand_in.close()
    return results


def _median(values: list) -> str:
    picked = [v for v in values if v is not None]
    if len(picked) < len(values):
        return f"never within the timeout ({len(values) - len(picked)} of {len(values)})" if not picked else \
            f"{statistics.median(picked):.2f} ms ({len(values) - len(picked)} of {len(values)} never)"
    return f"{statistics.median(picked):.2f} ms (max {max(picked):.2f})"


def machine() -> str:
    cpu = platform.processor() or "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({cpu}), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average at the end "
            f"{load} (1/5/15 min; other work on the machine shares the CPUs)")


def block(results: dict, where: str, timeout: float) -> str:
    names = {"compose-in-place": "compose file secret overwritten in place (`cat new > secrets/...`), the procedure",
             "compose-rename": "compose file secret replaced by rename (`mv`): not the procedure",
             "volume-replace": "file replaced by rename in a directory the proxy reads (the Pulumi-managed proxy's config volume, e.g. `docker cp`)"}
    lines = [START, "### Key rotation on Docker (named-client proxy)", "",
             f"Machine: {where}. Real nginx + njs with the Docker proxy's generated files (dev stack, `apiClients`), "
             "a stand-in OpenAI server; `scripts/docker_rotation_benchmark.py`. Each rotation swaps one client's only "
             "key; times are from the end of the write to the first answer with the new key accepted (200) and the "
             f"old one refused (401), polled on warm keep-alive connections (timeout {timeout:g} s); in flight: "
             "streams started with the old key 0.1 s before the write (3 SSE chunks, 0.2 s apart).", "",
             "| procedure | rotations | new key accepted after (median) | old key refused after (median) | in-flight streams completed | one request (median) |",
             "|---|---|---|---|---|---|"]
    for procedure, r in results.items():
        runs = r["runs"]
        ok = sum(x["streams_ok"] for x in runs)
        total = sum(x["streams"] for x in runs)
        lines.append(f"| {names[procedure]} | {len(runs)} | {_median([x['new_ms'] for x in runs])} | "
                     f"{_median([x['old_ms'] for x in runs])} | {ok} of {total} | {r['baseline_ms']:.2f} ms |")
    lines += ["", "No restart or reload in any run (the nginx process is the same throughout): `gateway.js` reads the "
              "keys file on every request, so the figures are one request's time. A rename through compose's file "
              "bind mount is never seen (the mount keeps the old file): the procedure overwrites in place.", END]
    return "\n".join(lines)


def write(text: str, out: Path) -> None:
    current = out.read_text()
    if START in current:
        head, rest = current.split(START, 1)
        current = head + text + rest.split(END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    out.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--write", action="store_true", help="write the block into docs/benchmarks.md")
    args = parser.parse_args()
    results = run(args.rounds, args.streams, args.timeout)
    text = block(results, machine(), args.timeout)
    print(text)
    print(json.dumps(results, indent=1), file=sys.stderr)
    if args.write:
        write(text, ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
