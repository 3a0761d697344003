"""CKV_SLM_004: the HF token and API keys come from Secrets mounted as files, never env or argv."""
from __future__ import annotations

from policies.rules import _secrets
from policies.rules._k8s import WORKLOAD_KINDS, container_argv, container_env, containers, env_from_secrets, pod_template
from policies.rules._types import NA, CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_004",
    name="Ensure the HF token and API keys are mounted from Secrets as files, not set in env or on the command line",
    severity="HIGH",
    rationale=(
        "Env values and arguments end up in the rendered manifest, `kubectl describe`, /proc/<pid>/environ, "
        "crash dumps and child processes. Mount the Secret as a file and point the engine at the path "
        "(HF_TOKEN_PATH for huggingface_hub, *_FILE / *_PATH variables for others)."
    ),
    reference="https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def evaluate(obj: dict) -> Result:
    tpl = pod_template(obj)
    if not tpl:
        return NA
    problems = []
    for c in containers(tpl[1]):
        found = _secrets.env_problems(container_env(c)) + _secrets.argv_problems(container_argv(c))
        found += [f"envFrom injects Secret {name!r} as env vars" for name in env_from_secrets(c)]
        problems += [f"container {c.get('name')!r}: {p}" for p in found]
    return Result.judge(True, problems)
