"""vLLM constants shared by the Args, the pod and the monitoring (upstream facts cited in docs/vllm.md)."""

from __future__ import annotations

__all__ = ["VLLM_PORT", "MODEL_DIR", "LORA_DIR", "DEFAULT_DOWNLOAD_PATTERNS", "VLLM_EXAMPLES_DIR"]

VLLM_PORT = 8000
"""vLLM's port inside the pod (bound to 127.0.0.1; the auth proxy is the pod's only listener)."""

MODEL_DIR = "/models"
"""The model cache mount (HF_HOME)."""

LORA_DIR = f"{MODEL_DIR}/lora"
"""Where each LoRA adapter is downloaded (``<LORA_DIR>/<name>``)."""

DEFAULT_DOWNLOAD_PATTERNS: tuple[str, ...] = (
    "*.safetensors",  # weights (+ model.safetensors.index.json via *.json)
    "*.json",  # config.json, generation_config.json, tokenizer_config.json, special_tokens_map.json, preprocessor configs
    "tokenizer*",  # tokenizer.json, tokenizer.model, tokenizer_config.json
    "*.model",  # sentencepiece models under other names (spiece.model)
    "*.tiktoken",  # tiktoken vocabularies
    "*.txt",  # merges.txt (BPE)
    "*.jinja",  # chat_template.jinja (transformers >= 4.43 saves the chat template separately)
)
"""What vLLM loads from a Hugging Face checkpoint. Leaves out duplicate weight formats (Meta's
``original/*.pth``, ``*.bin``, ``*.gguf``, ONNX folders) that would overflow the model cache."""

VLLM_EXAMPLES_DIR = "/vllm-workspace/examples"
"""Where the vllm-openai image keeps vLLM's ``examples/`` (docker/Dockerfile: ``WORKDIR /vllm-workspace``,
``COPY examples examples``), including the tool chat templates."""

GATEWAY_PORT_NAME = "http"
"""Name of vLLM's port (VLLM_PORT) on the pod when a ModelGateway fronts it (no per-server proxy)."""
