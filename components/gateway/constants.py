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

# --- Gateway API Inference Extension (cluster.inferenceGateway; docs/gateway.md "GAIE") --------------------------
GAIE_VERSION = "v1.0.0"
"""The GAIE release whose CRDs, chart and endpoint picker (versions.yaml ``gaie-epp``) the GAIE path follows."""
MODEL_HEADER = "X-Gateway-Model-Name"
"""The header the proxy sets to the body's ``model``; the HTTPRoute matches it (GAIE v1.0.0 Body-Based Routing sets
the same header: ``pkg/bbr/handlers/request.go:31``)."""
EPP_APP = "inference-epp"
"""``app.kubernetes.io/name`` of the endpoint-picker pods; ``app.kubernetes.io/instance`` is the vLLM service's name."""
EPP_GRPC_PORT, EPP_HEALTH_PORT, EPP_METRICS_PORT = 9002, 9003, 9090
"""The EPP's ext-proc, gRPC health and metrics ports (its defaults: ``pkg/epp/server/runserver.go:69-71``)."""
DATA_PLANE_ANNOTATION = "slm-deploy.io/gateway-data-plane"
"""On each InferencePool: the declared Gateway data plane (JSON ``{"podLabels", "namespaceLabels"}``), which the
gate's CKV_SLM_031 accepts as a peer of the pool's model servers."""


def epp_selector(service: str) -> dict[str, str]:
    """Pod labels of the endpoint picker of vLLM service ``service``'s InferencePool (what its model servers admit)."""
    return {"app.kubernetes.io/name": EPP_APP, "app.kubernetes.io/instance": service}
