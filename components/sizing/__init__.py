"""Memory model and fit verdict for vLLM, Ollama (GGUF) and ONNX Runtime GenAI.

Everything is computed in bytes (ints). Messages print GiB (2**30 bytes) and say so.

Formulas (docs/sizing.md explains them and where they are approximate):

* weights
    - vLLM bf16/fp16: (text params + vision params) × 2 bytes; fp8 / AWQ / GPTQ quantize the linear
      layers only (bits_per_weight / 8 bytes each), embeddings, lm_head and the vision tower stay 2 bytes.
    - GGUF: tensor by tensor with llama.cpp's type rules (output / tied embedding at Q6_K, attn_v and
      ffn_down at Q6_K on the "more bits" layers of the _M mixes, K-quant fallbacks when a row is not
      a multiple of 256) + the vision tower at F16 for the multimodal Gemma 3 blobs.
    - ONNX int4: linear layers and lm_head at the variant's bits/weight, embedding table in float.
* KV cache = 2 × layers × kv_heads × head_dim × bytes(kv dtype) × tokens × concurrent sequences.
* overhead
    - vLLM, per GPU: 512 MiB non-torch memory (CUDA context, cuBLAS/NCCL workspaces)
      + 512 MiB CUDA graphs + activation peak of the profiling run
      (8192 batched tokens × (4 × hidden + 2 × intermediate / tp) × 2 bytes + 256 × vocab × 4 bytes logits).
    - Ollama: 512 MiB runtime + llama.cpp compute buffer for a 512-token batch
      (512 × (vocab + 4 × hidden + 2 × intermediate) × 4 bytes).
    - ONNX: 512 MiB runtime + one prompt of min(max_length, 1024) tokens of float32 activations and
      logits (tokens × (vocab + hidden + intermediate) × 4 bytes).
"""


from __future__ import annotations

from components.catalog import ModelSpec
from components.sizing.common import (
    ENGINE_FIXES,
    FitError,
    Fix,
    MemoryPlan,
    Wording,
    checkpoint_bytes,
    k8s_quantity,
    kv_cache_bytes,
    worded,
)
from components.sizing.gguf import gguf_weights_bytes, report_ollama, size_ollama
from components.sizing.onnx import onnx_weights_bytes, report_onnx, size_onnx
from components.sizing.vllm import (
    DEFAULT_MAX_MODEL_LEN,
    VllmPlan,
    fit_problem,
    report_vllm,
    size_vllm,
    vllm_weights_bytes,
)

__all__ = [
    "DEFAULT_MAX_MODEL_LEN",
    "ENGINE_FIXES",
    "FitError",
    "Fix",
    "MemoryPlan",
    "Wording",
    "VllmPlan",
    "checkpoint_bytes",
    "fit_problem",
    "gguf_weights_bytes",
    "k8s_quantity",
    "kv_cache_bytes",
    "onnx_weights_bytes",
    "report",
    "report_ollama",
    "report_onnx",
    "report_vllm",
    "size_ollama",
    "size_onnx",
    "size_vllm",
    "vllm_weights_bytes",
    "worded",
]



def report(engine: str, model: str | ModelSpec, **kwargs) -> VllmPlan | MemoryPlan:
    """Non-raising sizing for any engine ("vllm", "ollama", "onnx"): returns fits=False with the
    same numbers and suggestions instead of raising FitError."""
    fns = {"vllm": report_vllm, "ollama": report_ollama, "onnx": report_onnx}
    if engine not in fns:
        raise ValueError(f"engine must be one of {', '.join(fns)}")
    return fns[engine](model, **kwargs)

