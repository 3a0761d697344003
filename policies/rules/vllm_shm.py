"""CKV_SLM_006: vLLM containers mount a memory-backed emptyDir at /dev/shm."""
from __future__ import annotations

from policies.rules._identify import runs_vllm_engine
from policies.rules._k8s import WORKLOAD_KINDS, as_dict, container_argv, containers, mounts, pod_template
from policies.rules._types import NA, CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_006",
    name="Ensure vLLM containers mount a memory-backed emptyDir at /dev/shm",
    severity="LOW",
    rationale=(
        "vLLM (PyTorch/NCCL workers, tensor parallelism) exchanges tensors through /dev/shm; the container "
        "runtime default is 64 MiB, which makes multi-GPU and large-batch serving crash with bus errors."
    ),
    reference="https://docs.vllm.ai/en/latest/deployment/k8s.html",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)


def evaluate(obj: dict) -> Result:
    tpl = pod_template(obj)
    if not tpl:
        return NA
    applicable, problems = False, []
    for c in containers(tpl[1], init=False):
        if not runs_vllm_engine(c.get("image"), container_argv(c)):
            continue
        applicable = True
        if not any(
            m.get("mountPath") == "/dev/shm" and as_dict(v.get("emptyDir")).get("medium") == "Memory"
            for m, v in mounts(c, tpl[1])
        ):
            problems.append(f"container {c.get('name')!r} has no emptyDir(medium: Memory) at /dev/shm")
    return Result.judge(applicable, problems)
