"""CKV_SLM_025: vLLM's speculative decoding does not download a second, unreviewed model."""
from __future__ import annotations

from policies.rules._k8s import WORKLOAD_KINDS
from policies.rules._types import CheckMeta, Result
from policies.rules._vllm_args import json_value, judge_vllm, values_of

META = CheckMeta(
    id="CKV_SLM_025",
    name="Ensure vLLM's speculative decoding does not download a second, unreviewed model",
    severity="MEDIUM",
    rationale=(
        '--speculative-config with a `model` makes vLLM download and run a second (draft) model that the catalog, the revision pin, the sizing and the model-cache Job know nothing about. ngram speculation (no model) is fine.'
    ),
    reference="https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/engine/arg_utils.py",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def problems(toks: list[str]) -> list[str]:
    found = []
    for raw in values_of(toks, "--speculative-config"):
        value = json_value(raw)
        if isinstance(value, dict) and value.get("model"):
            found.append(f"--speculative-config names model {value['model']!r} (a second, unpinned download)")
    for model in values_of(toks, "--speculative-config.model"):
        found.append(f"--speculative-config.model {model!r} (a second, unpinned download)")
    return found


def evaluate(obj: dict) -> Result:
    return judge_vllm(obj, problems)
