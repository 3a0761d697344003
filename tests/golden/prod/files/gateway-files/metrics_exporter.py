"""Per-client gateway metrics from nginx's access log (Python standard library only).

nginx sends each request's JSON access-log line (client name, model, status, timings;
never a key) over syslog/UDP on loopback; this process counts them and serves
Prometheus text on ``/metrics``:

* ``slm_gateway_requests_total{client,model,code}``
* ``slm_gateway_request_duration_seconds{client}`` (histogram, whole request as nginx saw it)
* ``slm_gateway_limited_total{client,limit}``  (429s, ``limit`` = ``rpm`` | ``concurrency``)
* ``slm_gateway_log_lines_invalid_total``

Callers whose key is unknown count as ``client="unauthenticated"``.
Shipped by slm-deploy (components/gateway/files/metrics_exporter.py).

Usage: metrics_exporter.py --syslog 127.0.0.1:9514 --listen 0.0.0.0:9145
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
ANONYMOUS = "unauthenticated"


class Registry:
    """Counters and histograms, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.limited: dict[tuple[str, str], int] = defaultdict(int)
        self.hist_counts: dict[str, list[int]] = {}
        self.hist_sum: dict[str, float] = defaultdict(float)
        self.hist_total: dict[str, int] = defaultdict(int)
        self.invalid = 0

    def observe(self, line: str) -> None:
        start = line.find("{")
        try:
            entry = json.loads(line[start:]) if start >= 0 else None
            client = str(entry["client"]) or ANONYMOUS
            model = str(entry.get("model", ""))
            code = str(int(entry["status"]))
            duration = float(entry["duration"])
        except (ValueError, KeyError, TypeError):
            with self.lock:
                self.invalid += 1
            return
        with self.lock:
            self.requests[(client, model, code)] += 1
            if code == "429":
                limit = "rpm" if entry.get("limit_req") == "REJECTED" else "concurrency"
                self.limited[(client, limit)] += 1
            counts = self.hist_counts.setdefault(client, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if duration <= bound:
                    counts[i] += 1
            self.hist_sum[client] += duration
            self.hist_total[client] += 1

    def render(self) -> str:
        out = [
            "# HELP slm_gateway_requests_total Requests through the gateway by client, model and HTTP status.",
            "# TYPE slm_gateway_requests_total counter",
        ]
        with self.lock:
            for (client, model, code), n in sorted(self.requests.items()):
                out.append(f'slm_gateway_requests_total{{client="{_esc(client)}",model="{_esc(model)}",code="{code}"}} {n}')
            out += [
                "# HELP slm_gateway_limited_total Requests refused with 429 by client and limit (rpm or concurrency).",
                "# TYPE slm_gateway_limited_total counter",
            ]
            for (client, limit), n in sorted(self.limited.items()):
                out.append(f'slm_gateway_limited_total{{client="{_esc(client)}",limit="{limit}"}} {n}')
            out += [
                "# HELP slm_gateway_request_duration_seconds Request duration at the gateway by client.",
                "# TYPE slm_gateway_request_duration_seconds histogram",
            ]
            for client, counts in sorted(self.hist_counts.items()):
                label = _esc(client)
                for bound, n in zip(BUCKETS, counts):
                    out.append(f'slm_gateway_request_duration_seconds_bucket{{client="{label}",le="{bound}"}} {n}')
                total = self.hist_total[client]
                out.append(f'slm_gateway_request_duration_seconds_bucket{{client="{label}",le="+Inf"}} {total}')
                out.append(f'slm_gateway_request_duration_seconds_sum{{client="{label}"}} {self.hist_sum[client]:.6f}')
                out.append(f'slm_gateway_request_duration_seconds_count{{client="{label}"}} {total}')
            out += [
                "# HELP slm_gateway_log_lines_invalid_total Access-log lines the exporter could not parse.",
                "# TYPE slm_gateway_log_lines_invalid_total counter",
                f"slm_gateway_log_lines_invalid_total {self.invalid}",
            ]
        return "\n".join(out) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def serve_syslog(registry: Registry, sock: socket.socket) -> None:
    while True:
        data, _ = sock.recvfrom(65535)
        registry.observe(data.decode("utf-8", "replace"))


def make_http_server(registry: Registry, address: tuple[str, int]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            if self.path not in ("/metrics", "/healthz"):
                self.send_error(404)
                return
            body = (registry.render() if self.path == "/metrics" else "ok\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return ThreadingHTTPServer(address, Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--syslog", default="127.0.0.1:9514", help="UDP address nginx logs to")
    parser.add_argument("--listen", default="0.0.0.0:9145", help="address serving /metrics")
    args = parser.parse_args(argv)
    registry = Registry()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(_address(args.syslog))
    threading.Thread(target=serve_syslog, args=(registry, sock), daemon=True).start()
    make_http_server(registry, _address(args.listen)).serve_forever()


if __name__ == "__main__":
    main()
