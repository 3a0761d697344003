"""Ollama server settings: only environment variables the Ollama server really reads.

The course material invents variables (OLLAMA_NUM_GPU, OLLAMA_NUM_THREAD, OLLAMA_GPU_LAYERS,
OLLAMA_MAX_VRAM) that Ollama silently ignores. Here every variable is checked against the real
list (``envconfig`` of the pinned Ollama), and an invented one names what was probably meant.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.base import ArgsModel
from components.validation import GoDuration, TypeName

__all__ = [
    "REAL_ENV_VARS",
    "INVENTED_ENV_VARS",
    "MANAGED_ENV_VARS",
    "OllamaServerSettings",
    "check_env_name",
]

REAL_ENV_VARS: dict[str, str] = {
    "OLLAMA_HOST": "bind address of the server (and the server the CLI talks to)",
    "OLLAMA_KEEP_ALIVE": "how long a model stays loaded after a request (default 5m)",
    "OLLAMA_NUM_PARALLEL": "parallel requests per loaded model",
    "OLLAMA_MAX_LOADED_MODELS": "models loaded at the same time",
    "OLLAMA_MAX_QUEUE": "queued requests before 503 (default 512)",
    "OLLAMA_FLASH_ATTENTION": "flash attention (needed for a quantized KV cache)",
    "OLLAMA_KV_CACHE_TYPE": "KV cache type f16, q8_0 or q4_0",
    "OLLAMA_CONTEXT_LENGTH": "default context length when a request/Modelfile sets no num_ctx",
    "OLLAMA_MODELS": "model store directory",
    "OLLAMA_ORIGINS": "extra allowed CORS origins",
    "OLLAMA_LOAD_TIMEOUT": "how long a model load may stall before giving up (default 5m)",
    "OLLAMA_GPU_OVERHEAD": "bytes of VRAM to reserve per GPU",
    "OLLAMA_DEBUG": "debug logging",
}
"""Variables the pinned Ollama server reads (Ollama envconfig/config.go; docs/facts.md, docs/ollama.md)."""

INVENTED_ENV_VARS: dict[str, str] = {
    "OLLAMA_NUM_GPU": "GPU access is the `gpu` setting (none, all or device ids); per-model GPU layer offload is "
    "the Modelfile PARAMETER num_gpu",
    "OLLAMA_NUM_THREAD": "the Modelfile PARAMETER num_thread (per model variant)",
    "OLLAMA_GPU_LAYERS": "the Modelfile PARAMETER num_gpu (layers offloaded to the GPU)",
    "OLLAMA_MAX_VRAM": "OLLAMA_GPU_OVERHEAD (VRAM to keep free per GPU)",
}
"""Variables that do not exist in Ollama, with the real setting that was probably meant."""

MANAGED_ENV_VARS: dict[str, str] = {
    "OLLAMA_HOST": "set by the stack (the server listens on the internal network / pod IP)",
    "OLLAMA_MODELS": "set by the stack (the models volume)",
    "OLLAMA_KEEP_ALIVE": "server.keepAlive",
    "OLLAMA_NUM_PARALLEL": "server.numParallel",
    "OLLAMA_MAX_LOADED_MODELS": "server.maxLoadedModels",
    "OLLAMA_MAX_QUEUE": "server.maxQueue",
    "OLLAMA_FLASH_ATTENTION": "server.flashAttention",
    "OLLAMA_KV_CACHE_TYPE": "server.kvCacheType",
    "OLLAMA_CONTEXT_LENGTH": "server.contextLength",
}
"""Real variables that are typed fields (or owned by the stack), so not free-form env."""

def check_env_name(name: str) -> None:
    """Raise ValueError for a variable Ollama does not read, naming the real setting that was meant."""
    if name in REAL_ENV_VARS:
        return
    if name in INVENTED_ENV_VARS:
        raise ValueError(f"{name} is not an Ollama environment variable (Ollama ignores it); "
                         f"did you mean {INVENTED_ENV_VARS[name]}?")
    close = difflib.get_close_matches(name, list(REAL_ENV_VARS), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ValueError(f"{name} is not an Ollama environment variable; {hint}real ones: {', '.join(REAL_ENV_VARS)}")


def _free_env_name(name: str) -> str:
    check_env_name(name)
    if name in MANAGED_ENV_VARS:
        raise ValueError(f"{name} is not free-form here: use {MANAGED_ENV_VARS[name]}")
    return name


OllamaEnvName = Annotated[str, AfterValidator(_free_env_name), TypeName(
    "Ollama variable name (OLLAMA_*)", "a real Ollama variable (envconfig) that no typed server field sets")]
"""A key of ``server.env``: a real Ollama variable that no typed field sets."""


class OllamaServerSettings(ArgsModel):
    """Server-wide settings, each one a real Ollama environment variable."""

    keep_alive: GoDuration = Field(default="5m", alias="keepAlive", description="OLLAMA_KEEP_ALIVE: how long a model stays in memory after its last request (Go duration, -1 = forever, 0 = unload at once). Default 5m, Ollama's own default: memory is freed on an idle laptop.")
    num_parallel: int = Field(default=1, ge=1, le=16, alias="numParallel", description="OLLAMA_NUM_PARALLEL: parallel requests per loaded model; each one gets its own num_ctx of KV cache, so sizing multiplies by it. Default 1: one user on a workstation.")
    max_loaded_models: int = Field(default=1, ge=1, le=8, alias="maxLoadedModels", description="OLLAMA_MAX_LOADED_MODELS: models kept loaded at the same time; the memory limit covers this many of the largest models. Default 1: switching models reloads, but memory stays bounded.")
    max_queue: int = Field(default=512, ge=1, alias="maxQueue", description="OLLAMA_MAX_QUEUE: requests queued before Ollama answers 503. Default 512 (Ollama's default).")
    flash_attention: bool = Field(default=False, alias="flashAttention", description="OLLAMA_FLASH_ATTENTION: flash attention; required for a quantized KV cache. Default false (Ollama's default; not every model/backend supports it).")
    kv_cache_type: Literal["f16", "q8_0", "q4_0"] = Field(default="f16", alias="kvCacheType", description="OLLAMA_KV_CACHE_TYPE: KV cache precision. Default f16 (full quality); q8_0 halves the KV memory and needs flashAttention.")
    context_length: int = Field(default=4096, ge=512, le=131072, alias="contextLength", description="OLLAMA_CONTEXT_LENGTH: context for requests and models that set no num_ctx; sizing uses it (or a variant's larger num_ctx). Default 4096, Ollama's default, enough for chat.")
    env: dict[OllamaEnvName, str] = Field(default_factory=dict, description="Further real Ollama variables (OLLAMA_ORIGINS, OLLAMA_LOAD_TIMEOUT, OLLAMA_GPU_OVERHEAD, OLLAMA_DEBUG). Unknown or invented names are errors. Default none.")

    @model_validator(mode="after")
    def _kv_needs_flash(self) -> "OllamaServerSettings":
        if self.kv_cache_type != "f16" and not self.flash_attention:
            raise ValueError(f"kvCacheType {self.kv_cache_type} needs flashAttention: true "
                             "(Ollama ignores a quantized KV cache without flash attention)")
        return self

    def environment(self) -> dict[str, str]:
        """The OLLAMA_* variables for the server container (OLLAMA_HOST/OLLAMA_MODELS added by the target)."""
        env = {
            "OLLAMA_KEEP_ALIVE": self.keep_alive,
            "OLLAMA_NUM_PARALLEL": str(self.num_parallel),
            "OLLAMA_MAX_LOADED_MODELS": str(self.max_loaded_models),
            "OLLAMA_MAX_QUEUE": str(self.max_queue),
            "OLLAMA_FLASH_ATTENTION": "1" if self.flash_attention else "0",
            "OLLAMA_KV_CACHE_TYPE": self.kv_cache_type,
            "OLLAMA_CONTEXT_LENGTH": str(self.context_length),
        }
        env.update(self.env)
        return env
