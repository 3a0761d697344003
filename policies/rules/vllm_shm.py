"""CKV_SLM_006: vLLM containers mount a memory-backed emptyDir at /dev/shm."""
from __future__ import annotations

from policies.rules._identify import runs_vllm_engine
from policies.rules._k8s import WORKLOAD_KINDS, as_dict, container_argv, judge_containers, mounts
from policies.rules._types import CheckMeta, Result

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


def _shm_problems(c: dict, spec: dict) -> list[str] | None:
    if not runs_vllm_engine(c.get("image"), container_argv(c)):
        return None
    shm = any(m.get("mountPath") == "/dev/shm" and as_dict(v.get("emptyDir")).get("medium") == "Memory"
              for m, v in mounts(c, spec))
    return [] if shm else ["no emptyDir(medium: Memory) at /dev/shm"]


def evaluate(obj: dict) -> Result:
    return judge_containers(obj, _shm_problems, init=False)
