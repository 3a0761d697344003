"""CKV_SLM_021: vLLM does not run code from the model repository (--trust-remote-code)."""
from __future__ import annotations

from policies.rules._k8s import WORKLOAD_KINDS
from policies.rules._types import CheckMeta, Result
from policies.rules._vllm_args import judge_vllm, switch_on

META = CheckMeta(
    id="CKV_SLM_021",
    name="Ensure vLLM does not run code from the model repository (--trust-remote-code)",
    severity="HIGH",
    rationale=(
        '--trust-remote-code makes vLLM import and execute Python shipped in the model repository (custom modeling and tokenizer code) inside the serving pod: whoever can push to that repository runs code next to the weights, the API key file and the network. Pinning the revision narrows it; a reviewed waiver documents who accepted it.'
    ),
    reference="https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/engine/arg_utils.py",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def problems(toks: list[str]) -> list[str]:
    return ["--trust-remote-code runs Python from the model repository"] if switch_on(toks, "--trust-remote-code") else []


def evaluate(obj: dict) -> Result:
    return judge_vllm(obj, problems)
