"""Ports, names and versions of the ModelGateway (one place; tests and monitoring read them too)."""

from __future__ import annotations

TYPE = "slm:serving:ModelGateway"
APP_NAME = "model-gateway"
ROUTER_VERSION = "0.1.17"
"""vllm-router release (PyPI), hash-locked in files/router-requirements.txt; flags cited in docs/gateway.md."""

PROXY_PORT, PROXY_PORT_NAME = 8080, "http"
ROUTER_PORT = 8001
"""vllm-router's serving port, on 127.0.0.1 only: its admin routes are unauthenticated."""
ROUTER_METRICS_PORT, ROUTER_METRICS_PORT_NAME = 29000, "router-metrics"
CANARY_ROUTER_PORT = 8002
"""Canary ``i``'s router listens on 127.0.0.1:CANARY_ROUTER_PORT+i (one router per canaried service)."""
CANARY_METRICS_PORT = 29001
"""Canary ``i``'s router metrics on CANARY_METRICS_PORT+i, port name ``canary-<i>``."""
EXPORTER_PORT, EXPORTER_PORT_NAME = 9145, "metrics"
SYSLOG_ADDRESS = "127.0.0.1:9514"
WORKER_PORT = 8000
"""vLLM's port on the model-server pods the router discovers (components.vllm.constants.VLLM_PORT)."""
WORKER_SELECTOR = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/component": "model-server"}
"""Labels of the vLLM pods the router discovers (plus the stack's app.kubernetes.io/part-of)."""
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
"""The Prometheus pods admitted to the metrics ports (the MonitoringStack's)."""
VERIFY_CLIENT = "slm-verify"
"""The gateway's own client for the post-deploy smoke and benchmark Jobs (docs/lifecycle.md): every model,
limits sized so a benchmark at the sized concurrency is never throttled; a stack's client may not take the name."""
