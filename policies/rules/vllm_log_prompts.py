"""CKV_SLM_023: vLLM does not write prompts or generations to its logs."""
from __future__ import annotations

from policies.rules._k8s import WORKLOAD_KINDS
from policies.rules._types import CheckMeta, Result
from policies.rules._vllm_args import judge_vllm, switch_on

META = CheckMeta(
    id="CKV_SLM_023",
    name="Ensure vLLM does not write prompts or generations to its logs",
    severity="MEDIUM",
    rationale=(
        "--enable-log-requests logs every request's prompt (and --enable-log-outputs every generation) to stdout, where the cluster's log pipeline keeps them far longer and wider than the API itself: personal data and secrets pasted into prompts end up in the logs. (--no-disable-log-requests is the deprecated spelling of the same.)"
    ),
    reference="https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/entrypoints/openai/cli_args.py",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def problems(toks: list[str]) -> list[str]:
    found = [f for f in ("--enable-log-requests", "--enable-log-outputs") if switch_on(toks, f)]
    if "--no-disable-log-requests" in toks:
        found.append("--no-disable-log-requests")
    return [f"{f} writes prompts or generations to the logs" for f in found]


def evaluate(obj: dict) -> Result:
    return judge_vllm(obj, problems)
