"""OnnxEdgeNode constants: type token, port, paths, node label and taint (shared by Args and both targets)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["TYPE", "SERVER_PORT", "EDGE_POOL_LABEL", "EDGE_TAINT_KEY", "SECRETS_DIR", "API_KEY_FILE", "HF_TOKEN_DIR", "HF_TOKEN_FILE",
           "MODELS_DIR", "START_BUDGET_SECONDS", "SERVER_DIR", "DEVICE_RESOURCE"]

TYPE = "slm:serving:OnnxEdgeNode"
SERVER_PORT = 8000
EDGE_POOL_LABEL = "slm-deploy.io/edge-pool"
"""Node label (set by an admin) that selects the edge pool a node belongs to."""
EDGE_TAINT_KEY = "slm-deploy.io/edge"
"""Taint key (set by an admin, effect NoSchedule) that keeps other workloads off edge nodes."""
SECRETS_DIR = "/run/slm-secrets"
API_KEY_FILE = f"{SECRETS_DIR}/api-key"
HF_TOKEN_DIR = "/run/slm-hf-token"
"""Where the download step alone reads the HF token: never mounted into the long-running server."""
HF_TOKEN_FILE = f"{HF_TOKEN_DIR}/hf-token"
MODELS_DIR = "/models"
START_BUDGET_SECONDS = 600  # model load of a ~5 GB int4 export from a slow edge disk
SERVER_DIR = Path(__file__).resolve().parent / "server"
DEVICE_RESOURCE = {"nvidia-gpu": "nvidia.com/gpu", "intel-npu": "npu.intel.com/accel", "intel-gpu": "gpu.intel.com/i915"}
"""Kubernetes extended resource of each accelerator hardware kind."""
