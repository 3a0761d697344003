"""CKV_SLM_007: vLLM containers have a startup probe that allows >= 600 s for the model load."""
from __future__ import annotations

from policies.rules._identify import runs_vllm_engine
from policies.rules._k8s import WORKLOAD_KINDS, as_dict, container_argv, judge_containers
from policies.rules._types import CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_007",
    name="Ensure vLLM containers have a startup probe allowing at least 600 seconds for the model load",
    severity="LOW",
    rationale=(
        "Loading weights, compiling CUDA graphs and profiling memory takes minutes; without a startup probe "
        "budget (initialDelaySeconds + periodSeconds x failureThreshold) of at least 600 s the liveness "
        "probe kills the pod while it is still loading, and it never becomes ready."
    ),
    reference="https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)

MIN_BUDGET_SECONDS = 600


def probe_budget(probe: dict) -> float:
    """Kubernetes defaults: initialDelaySeconds 0, periodSeconds 10, failureThreshold 3."""
    return float(probe.get("initialDelaySeconds", 0) or 0) + float(probe.get("periodSeconds", 10) or 10) * float(
        probe.get("failureThreshold", 3) or 3)


def _probe_problems(c: dict, _spec: dict) -> list[str] | None:
    if not runs_vllm_engine(c.get("image"), container_argv(c)):
        return None
    probe = as_dict(c.get("startupProbe"))
    if not probe:
        return ["no startupProbe"]
    budget = probe_budget(probe)
    return [f"startupProbe budget {budget:.0f}s < {MIN_BUDGET_SECONDS:.0f}s"] if budget < MIN_BUDGET_SECONDS else []


def evaluate(obj: dict) -> Result:
    return judge_containers(obj, _probe_problems, init=False)
