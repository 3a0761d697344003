"""Model references for Ollama: catalog ids or pinned Ollama tags, resolved and sized.

"Pinned" for Ollama's registry means a tag with an explicit parameter size (and optionally a
quantization), e.g. ``qwen3:0.6b`` or ``phi4-mini:3.8b-q4_K_M``. Bare names and ``:latest`` float.
Ollama's registry tags are mutable and ``ollama pull`` cannot pull by digest, so the explicit
size+quantization tag is the strongest pin the registry offers (docs/ollama.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from components.catalog import ModelSpec, UnknownCatalogId, get_model, list_models
from components.validation import TypeName

__all__ = ["ResolvedModel", "resolve_model", "ollama_catalog_tags", "catalog_tag", "OllamaModelRef"]

_SIZE_TAG = re.compile(r"^\d+(\.\d+)?[bBmM]")
_QUANT = re.compile(r"(?:^|-)(q\d_[0-9a-z_]+|fp16|f16|bf16)$", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedModel:
    ref: str
    """What the stack file said."""
    tag: str
    """The Ollama tag pulled and served."""
    spec: ModelSpec
    quantization: str
    """GGUF quantization id in the catalog (Q4_K_M, Q8_0, F16)."""


def ollama_catalog_tags() -> dict[str, ModelSpec]:
    return {m.ollama_tag: m for m in list_models() if m.ollama_tag}


def _quant_id(raw: str) -> str:
    upper = raw.upper()
    return "F16" if upper in ("FP16", "F16", "BF16") else upper.replace("Q", "Q", 1)


def _tag_suffix(quant: str) -> str:
    """Ollama library spelling of a quantization in a tag: q4_K_M, q8_0, fp16."""
    return "fp16" if quant == "F16" else quant[0].lower() + quant[1:]


def catalog_tag(spec: ModelSpec, quant: str) -> str:
    """The pinned Ollama tag of a catalog model in one of its GGUF quantizations: qwen3:8b-q8_0."""
    return f"{spec.ollama_tag}-{_tag_suffix(quant)}"


def resolve_model(ref: str) -> ResolvedModel:
    """Resolve a catalog id or an Ollama tag; ValueError when unpinned or unknown."""
    if ":" not in ref:
        try:
            spec = get_model(ref)
        except UnknownCatalogId:
            raise ValueError(
                f"model {ref!r} is not pinned: a bare Ollama name means {ref}:latest, which moves. Use a catalog id "
                f"({', '.join(sorted(m.id for m in list_models() if m.ollama_tag))}) or a tag with an explicit "
                "size such as qwen3:0.6b or phi4-mini:3.8b-q4_K_M"
            ) from None
        if not spec.ollama_tag:
            raise ValueError(f"catalog model {ref!r} has no Ollama tag; it cannot be served by Ollama")
        quant = spec.ollama_quantizations[0]
        return ResolvedModel(ref, catalog_tag(spec, quant), spec, quant)
    name, _, tag = ref.partition(":")
    if not tag or tag == "latest" or not _SIZE_TAG.match(tag):
        raise ValueError(
            f"model tag {ref!r} is not pinned: the tag must start with an explicit size (e.g. {name}:0.6b or "
            f"{name}:3.8b-q4_K_M), never `latest` or a size-less alias"
        )
    size = _SIZE_TAG.match(tag).group(0).lower()  # type: ignore[union-attr]
    base = f"{name}:{size}"
    known = ollama_catalog_tags()
    if base not in known:
        raise ValueError(
            f"model tag {ref!r} ({base}) is not in the model catalog, so it cannot be sized; catalog Ollama tags: "
            f"{', '.join(sorted(known))}"
        )
    spec = known[base]
    rest = tag[len(size):]
    found = _QUANT.search(rest)
    quant = _quant_id(found.group(1)) if found else spec.ollama_quantizations[0]
    if quant not in spec.ollama_quantizations:
        raise ValueError(f"model tag {ref!r}: quantization {quant} is not published for {spec.id} "
                         f"(Ollama offers {', '.join(spec.ollama_quantizations)})")
    return ResolvedModel(ref, ref, spec, quant)


def _resolvable(ref: str) -> str:
    resolve_model(ref)
    return ref


OllamaModelRef = Annotated[str, AfterValidator(_resolvable), TypeName(
    "catalog id or pinned Ollama tag",
    "a catalog id with an Ollama tag, or a tag with an explicit size (qwen3:0.6b, phi4-mini:3.8b-q4_K_M); never latest")]
"""A model to pull (``ollama.models[]``): what :func:`resolve_model` resolves, else its ValueError."""
