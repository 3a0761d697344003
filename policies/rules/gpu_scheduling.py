"""CKV_SLM_001: GPU workloads set nvidia.com/gpu limits and are scheduled onto GPU nodes."""
from __future__ import annotations

from policies.rules._identify import is_cuda_vllm_image, runs_vllm_engine
from policies.rules._k8s import WORKLOAD_KINDS, as_dict, as_list, container_argv, containers, pod_template
from policies.rules._types import NA, CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_001",
    name="Ensure GPU workloads set nvidia.com/gpu limits, select GPU nodes and tolerate the GPU taint",
    severity="MEDIUM",
    rationale=(
        "A CUDA vLLM container without a GPU limit lands on a CPU node and crash-loops, or shares a GPU "
        "it was never allocated; without a GPU node selector and a toleration for the nvidia.com/gpu taint "
        "the pod stays Pending or competes with other workloads for the wrong nodes."
    ),
    reference="https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)

GPU_TAINT = "nvidia.com/gpu"
GPU_NODE_LABELS = {
    "nvidia.com/gpu",
    "feature.node.kubernetes.io/pci-10de.present",  # NFD: NVIDIA PCI vendor
    "cloud.google.com/gke-accelerator",
    "k8s.amazonaws.com/accelerator",
}


def _is_gpu_resource(name: str) -> bool:
    return name == "nvidia.com/gpu" or name.startswith("nvidia.com/mig-")


def _is_gpu_node_label(key: object) -> bool:
    key = str(key)
    return key in GPU_NODE_LABELS or key.startswith(("nvidia.com/gpu.", "nvidia.com/mig."))


def _gpus(container: dict, section: str) -> bool:
    res = as_dict(as_dict(container.get("resources")).get(section))
    return any(_is_gpu_resource(str(k)) for k in res)


def _selects_gpu_nodes(spec: dict) -> bool:
    if any(_is_gpu_node_label(k) for k in as_dict(spec.get("nodeSelector"))):
        return True
    required = as_dict(as_dict(as_dict(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"))
    terms = [t for t in as_list(required.get("nodeSelectorTerms")) if isinstance(t, dict)]
    # every alternative term must pin GPU nodes, otherwise one term lets the pod land elsewhere
    return bool(terms) and all(
        any(_is_gpu_node_label(as_dict(e).get("key")) and as_dict(e).get("operator") != "DoesNotExist"
            for e in as_list(t.get("matchExpressions")))
        for t in terms
    )


def _tolerates_gpu_taint(spec: dict) -> bool:
    return any(
        as_dict(t).get("key") == GPU_TAINT and as_dict(t).get("effect") in (None, "", "NoSchedule")
        for t in as_list(spec.get("tolerations"))
    )


def evaluate(obj: dict) -> Result:
    tpl = pod_template(obj)
    if not tpl:
        return NA
    _, spec = tpl
    problems: list[str] = []
    gpu_pod = False
    for c in containers(spec):
        # A CUDA vLLM container needs a GPU when it runs the engine; the same image downloading a model
        # (hf download), running a script or a load generator (vllm bench serve) does not.
        engine = is_cuda_vllm_image(c.get("image")) and runs_vllm_engine(c.get("image"), container_argv(c))
        wants_gpu = _gpus(c, "limits") or _gpus(c, "requests") or engine
        gpu_pod = gpu_pod or wants_gpu
        if wants_gpu and not _gpus(c, "limits"):
            problems.append(f"container {c.get('name')!r} runs on GPU but sets no nvidia.com/gpu limit")
    if not gpu_pod:
        return NA
    if not _selects_gpu_nodes(spec):
        problems.append("pod selects no GPU nodes (nodeSelector / required node affinity on a GPU label)")
    if not _tolerates_gpu_taint(spec):
        problems.append("pod does not tolerate the nvidia.com/gpu taint")
    return Result.judge(True, problems)
