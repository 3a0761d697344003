"""CKV_SLM_022: vLLM does not let API clients read files of the pod (--allowed-local-media-path)."""
from __future__ import annotations

from policies.rules._k8s import WORKLOAD_KINDS
from policies.rules._types import CheckMeta, Result
from policies.rules._vllm_args import judge_vllm, values_of

META = CheckMeta(
    id="CKV_SLM_022",
    name="Ensure vLLM does not let API clients read files of the pod (--allowed-local-media-path)",
    severity="HIGH",
    rationale=(
        "--allowed-local-media-path lets any API client reference file:// URLs under that directory in multimodal requests, so the server reads pod files on a client's behalf (model cache, mounted secrets if the path covers them)."
    ),
    reference="https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/engine/arg_utils.py",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def problems(toks: list[str]) -> list[str]:
    return [f"--allowed-local-media-path {v!r} lets clients read files of the pod" for v in values_of(toks, "--allowed-local-media-path") if v]


def evaluate(obj: dict) -> Result:
    return judge_vllm(obj, problems)
