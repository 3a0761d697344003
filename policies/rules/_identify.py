"""Recognise engines and UIs by image reference (primary) and labels (secondary)."""
from __future__ import annotations

import re

from policies.rules._argv import segments, tokens

COMPONENT_LABEL = "app.kubernetes.io/component"
MODEL_SERVER = "model-server"
AUTH_PROXY_CONTAINER = "auth-proxy"
AUTH_PORT_NAME = "http-auth"
COMPOSE_ROLE_LABEL = "slm-deploy.io/role"
WEBUI_KEY_PATH = "/app/backend/.webui_secret_key"  # what upstream start.sh reads (cwd /app/backend)

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_repo(image: object) -> str:
    """`ghcr.io/x/y:tag@sha256:..` -> `ghcr.io/x/y` (lower case)."""
    ref = str(image or "").strip().lower().split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref = ref[:colon]
    return ref


def is_digest_pinned(image: object) -> bool:
    return bool(_DIGEST.search(str(image or "").strip().lower()))


def is_vllm_image(image: object) -> bool:
    return "vllm" in image_repo(image)


def is_cuda_vllm_image(image: object) -> bool:
    return bool(re.search(r"(^|/)vllm/vllm-openai$", image_repo(image)))


def is_ollama_image(image: object) -> bool:
    return bool(re.search(r"(^|/)ollama/ollama$", image_repo(image)))


def is_model_server_image(image: object) -> bool:
    return is_vllm_image(image) or is_ollama_image(image)


def is_chat_ui_image(image: object) -> bool:
    return "open-webui" in image_repo(image)


_VERSION_TAG = re.compile(r":v?(\d+(?:\.\d+)*)(?:@|$)")


def image_version(image: object) -> tuple[int, ...] | None:
    """``x/y:v0.6.36@sha256:..`` -> ``(0, 6, 36)``; None when the tag is not a version (``main``, digest only)."""
    match = _VERSION_TAG.search(str(image or "").strip().lower().rsplit("/", 1)[-1])
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def has_model_server_label(labels: object) -> bool:
    return isinstance(labels, dict) and labels.get(COMPONENT_LABEL) == MODEL_SERVER


_ENGINE_SUBCOMMANDS = {"serve", "run-batch"}


def runs_vllm_engine(image: object, argv: list[str]) -> bool:
    """True when a container runs the vLLM engine itself (``vllm serve``, ``vllm run-batch``, the OpenAI
    api_server module, or a vLLM image's default ``vllm serve`` entrypoint with only flags), i.e. loads
    a model onto the accelerator. A download (``hf download``), a script or ``vllm bench serve`` (a client)
    in the same image does not."""
    toks = tokens(argv)
    if "vllm.entrypoints.openai.api_server" in toks:
        return True
    if is_vllm_image(image) and (not toks or toks[0].startswith("-")):
        return True  # the image's entrypoint (vllm serve) with flags only
    for seg in segments(toks):
        for i, tok in enumerate(seg[:-1]):
            if tok.rsplit("/", 1)[-1] == "vllm" and seg[i + 1] in _ENGINE_SUBCOMMANDS:
                return True
    return False
