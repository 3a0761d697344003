"""A stack using cluster.inferenceGateway, built from prod's stack file (prod itself keeps vllm-router)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stacks.loader import load_stack
from tests.conftest import REPO, write_stack

GAIE = """    inferenceGateway:
      name: inference-gateway
      namespace: gateway-system
      address: inference-gateway-istio.gateway-system.svc.cluster.local:80
      dataPlane:
        podLabels:
          gateway.networking.k8s.io/gateway-name: inference-gateway
"""
"""The capability as a stack file writes it (under ``cluster:``)."""


def gaie_stack_text(cluster_extra: str = GAIE) -> str:
    """prod's stack file with ``cluster_extra`` added under cluster."""
    text = (REPO / "stacks" / "Pulumi.prod.yaml").read_text()
    anchor = "    spareGpus: 1\n"
    assert anchor in text
    return text.replace(anchor, anchor + cluster_extra)


def build_gaie_stack(root: Path) -> Path:
    """Write the stack into a scratch project under ``root``, synthesize, render and gate it (reviewed waivers, no
    verdict cache); return the build directory. The gate must pass."""
    from slm_deploy.pipeline import build_stack

    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "stacks").mkdir()
    write_stack(root, "gaie", gaie_stack_text())
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SLM_DEPLOY_WAIVERS", raising=False)
        mp.setenv("SLM_DEPLOY_NO_CACHE", "1")
        build = build_stack(load_stack("gaie", root), root / "build" / "gaie")
    assert build.gate.ok, [(f.check_id, f.resource, f.message) for f in build.gate.failed]
    return build.out_dir
