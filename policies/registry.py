"""Catalog of every SLM check (no checkov import): used for the reviewer catalog and the gate."""
from __future__ import annotations

from policies.rules import (
    egress_non_public, exposure, gateway_client_limits, gpu_scheduling, key_material, model_revision, secret_literals, vllm_cors_any, vllm_dp_address, vllm_local_media,
    vllm_log_prompts, vllm_shm, vllm_speculative_model, vllm_startup_probe, vllm_trust_remote_code, webui_auth,
    webui_signup,
)
from policies.rules._types import CheckMeta
from policies.rules.manifest_set import METAS as MANIFEST_SET_METAS

# Kubernetes rules run by checkov through the adapters in policies/checks (one module per rule).
KUBERNETES_RULES = (gpu_scheduling, exposure, model_revision, secret_literals, webui_auth, vllm_shm, vllm_startup_probe,
                    vllm_trust_remote_code, vllm_local_media, vllm_log_prompts, vllm_cors_any, vllm_speculative_model,
                    vllm_dp_address, webui_signup, gateway_client_limits, key_material, egress_non_public)


def list_slm_checks() -> list[CheckMeta]:
    from policies.compose.runner import load_compose_checks

    metas = [r.META for r in KUBERNETES_RULES] + list(MANIFEST_SET_METAS) + [c.META for c in load_compose_checks()]
    return sorted(metas, key=lambda m: m.id)
