"""CKV_SLM_026: vLLM's data-parallel coordination does not listen on every address."""
from __future__ import annotations

from policies.rules._k8s import WORKLOAD_KINDS
from policies.rules._types import CheckMeta, Result
from policies.rules._vllm_args import judge_vllm, values_of

META = CheckMeta(
    id="CKV_SLM_026",
    name="Ensure vLLM's data-parallel coordination does not listen on every address",
    severity="HIGH",
    rationale=(
        "--data-parallel-address 0.0.0.0 (or ::) opens vLLM's data-parallel RPC (unauthenticated ZMQ sockets) on every interface of the pod: anything that reaches the pod IP can talk to the engine core, past the auth proxy."
    ),
    reference="https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/engine/arg_utils.py",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def problems(toks: list[str]) -> list[str]:
    return [f"--data-parallel-address {v!r} listens on every address" for v in values_of(toks, "--data-parallel-address", "-dpa")
            if v.strip("[]") in ("0.0.0.0", "::", "*")]


def evaluate(obj: dict) -> Result:
    return judge_vllm(obj, problems)
