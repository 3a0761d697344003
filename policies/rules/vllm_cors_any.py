"""CKV_SLM_024: vLLM does not allow every browser origin (--allowed-origins '*')."""
from __future__ import annotations

from policies.rules._k8s import WORKLOAD_KINDS
from policies.rules._types import CheckMeta, Result
from policies.rules._vllm_args import json_value, judge_vllm, values_of

META = CheckMeta(
    id="CKV_SLM_024",
    name="Ensure vLLM does not allow every browser origin (--allowed-origins '*')",
    severity="MEDIUM",
    rationale=(
        '--allowed-origins \'["*"]\' tells browsers that any web page may call the API with the user\'s credentials; a page on the internet can then drive the model through a user\'s browser. Name the origins (vLLM\'s default, when the flag is absent, is also \'*\': the server is only reachable through the auth proxy, which sends no CORS headers).'
    ),
    reference="https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/entrypoints/openai/cli_args.py",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def problems(toks: list[str]) -> list[str]:
    found = []
    for raw in values_of(toks, "--allowed-origins"):
        value = json_value(raw)
        origins = value if isinstance(value, list) else [value]
        if any(str(o).strip() == "*" for o in origins):
            found.append(f"--allowed-origins {raw!r} allows every origin")
    return found


def evaluate(obj: dict) -> Result:
    return judge_vllm(obj, problems)
