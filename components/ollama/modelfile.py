"""Modelfile variants: a typed model, validation against Ollama's real syntax, jinja2 rendering.

Instructions are FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, LICENSE and MESSAGE; there is no
``FILE`` instruction, and the context parameter is ``num_ctx`` (not ``context_length``).
PARAMETER names and value types are generated from the pinned Ollama's ``api/types.go`` (the json tags of
``api.Options`` and ``api.Runner``, exactly what ``ollama create``'s ``api.FormatParams`` accepts; anything
else fails with "unknown parameter"): ``parameters.json`` beside this module, written by
``scripts/ollama_params_from_source.py`` with the tag, commit, file sha256 and each field's line.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, field_validator

from components.base import ArgsModel
from components.ollama.modelfile_parser import ModelfileSyntaxError, parse_modelfile
from components.templating import render_template
from components.validation import OllamaModelName, TypeName

__all__ = [
    "INSTRUCTIONS",
    "PARAMETERS",
    "ModelfileMessage",
    "ModelfileVariant",
    "check_parameter",
    "check_instruction",
    "render_modelfile",
]

INSTRUCTIONS = ("FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE", "MESSAGE")

PARAMETERS_FILE = Path(__file__).with_name("parameters.json")
_GENERATED = json.loads(PARAMETERS_FILE.read_text())
OLLAMA_PARAMETERS_VERSION = _GENERATED["version"]
_GO_TYPES: dict[str, type] = {"int": int, "float32": float, "[]string": str, "*bool": bool, "bool": bool, "string": str}

PARAMETERS: dict[str, type] = {name: _GO_TYPES[spec["go_type"]] for name, spec in _GENERATED["parameters"].items()}
"""PARAMETER name -> value type."""

_WRONG_NAMES = {
    "context_length": "num_ctx", "context": "num_ctx", "ctx": "num_ctx", "n_ctx": "num_ctx",
    "max_tokens": "num_predict", "repetition_penalty": "repeat_penalty", "gpu_layers": "num_gpu",
    "n_gpu_layers": "num_gpu", "threads": "num_thread",
}
_REMOVED = ("mirostat", "mirostat_eta", "mirostat_tau")
"""In api.Options up to at least v0.5.0, gone by v0.9.0: ``ollama create`` at the pinned version fails on them."""
_RANGES: dict[str, tuple[float, float]] = {
    "num_ctx": (256, 1_048_576), "temperature": (0, 5), "top_p": (0, 1), "min_p": (0, 1), "typical_p": (0, 1),
    "top_k": (0, 10_000), "repeat_penalty": (0, 10), "repeat_last_n": (-1, 1_048_576), "num_predict": (-2, 1_048_576),
    "num_gpu": (-1, 1000), "num_thread": (1, 1024), "num_batch": (1, 65536),
}
ParamValue = Union[bool, int, float, str, list[str]]


def _control_characters(text: str, allowed: str = "") -> list[str]:
    """Control and format characters (Unicode categories Cc, Cf, Zl, Zp) in ``text``, except ``allowed``."""
    return sorted({f"U+{ord(c):04X}" for c in text
                   if c not in allowed and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})


def single_line(text: str, what: str) -> str:
    """A value written on one Modelfile line: no control characters at all (a newline or carriage return
    would start a second instruction, e.g. another FROM or an ADAPTER)."""
    found = _control_characters(text)
    if found:
        raise ValueError(f"{what} must be one line without control characters; found {', '.join(found)}")
    return text


def multi_line(text: str | None, what: str) -> str | None:
    """A value written as one triple-quoted Modelfile string: newlines and tabs are fine, other control
    characters (carriage returns included) are not, and it must not contain the closing quote."""
    if text is None:
        return None
    if '"""' in text:
        raise ValueError(f'{what} must not contain """ (it is written as a triple-quoted Modelfile string)')
    found = _control_characters(text, allowed="\n\t")
    if found:
        raise ValueError(f"{what} must not contain control characters other than newline and tab; found {', '.join(found)}")
    return text


def check_parameter(name: str, value: object) -> None:
    """Raise ValueError when ``PARAMETER name value`` is not valid Ollama syntax."""
    if name not in PARAMETERS:
        meant = _WRONG_NAMES.get(name) or next(iter(difflib.get_close_matches(name, list(PARAMETERS), n=1)), None)
        hint = f"did you mean {meant}? " if meant else ""
        if name in _REMOVED:
            hint = f"Ollama {OLLAMA_PARAMETERS_VERSION} no longer has it (ollama create fails with unknown parameter); "
        raise ValueError(f"PARAMETER {name} is not an Ollama Modelfile parameter; {hint}valid: {', '.join(PARAMETERS)}")
    kind = PARAMETERS[name]
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and name != "stop":
        raise ValueError(f"PARAMETER {name} takes one value, got a list; only stop may repeat")
    for v in values:
        if kind is bool:
            ok = isinstance(v, bool)
        elif kind is int:
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif kind is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        else:
            ok = isinstance(v, str) and v != "" and '"' not in v
            if ok:
                single_line(v, f"PARAMETER {name}")
        if not ok:
            raise ValueError(f"PARAMETER {name} {v!r} must be a {kind.__name__}")
        if name in _RANGES and not isinstance(v, bool):
            lo, hi = _RANGES[name]
            if not lo <= float(v) <= hi:  # type: ignore[arg-type]
                raise ValueError(f"PARAMETER {name} {v} is outside {lo:g}..{hi:g}")


def check_instruction(line: str) -> None:
    """Validate one raw Modelfile line (used for ``instructions``): one line, read by Ollama's parser as
    exactly one instruction."""
    single_line(line, "an instructions line")
    word, _, rest = line.strip().partition(" ")
    keyword = word.upper()
    if keyword not in INSTRUCTIONS:
        raise ValueError(f"{word} is not a Modelfile instruction (valid: {', '.join(INSTRUCTIONS)})"
                         + ("; files are referenced by FROM/ADAPTER paths, there is no FILE instruction" if keyword == "FILE" else ""))
    if keyword == "FROM":
        raise ValueError("FROM is set by `base`; do not repeat it in instructions")
    if keyword == "ADAPTER":
        raise ValueError("ADAPTER needs a local adapter file that the stack does not ship; build that variant outside the stack")
    if keyword in ("TEMPLATE", "SYSTEM"):
        raise ValueError(f"use the `{keyword.lower()}` field instead of a raw {keyword} line")
    if not rest.strip():
        raise ValueError(f"{keyword} needs an argument")
    if keyword == "PARAMETER":
        name, _, raw = rest.strip().partition(" ")
        check_parameter(name, _parse_scalar(name, raw.strip()))
    if keyword == "MESSAGE":
        role = rest.strip().split(" ", 1)[0]
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"MESSAGE role {role!r} must be system, user or assistant")
    try:
        commands = parse_modelfile(f"FROM base\n{line}\n")
    except ModelfileSyntaxError as exc:
        raise ValueError(f"Ollama's Modelfile parser rejects {line!r}: {exc}") from None
    if len(commands) != 2:
        raise ValueError(f"{line!r} reads as {len(commands) - 1} instructions in Ollama's parser; write exactly one")


def _parse_scalar(name: str, raw: str) -> object:
    kind = PARAMETERS.get(name, str)
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is bool:
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError):
        return raw
    return raw.strip('"')


def _instruction(line: str) -> str:
    check_instruction(line)
    return line


ModelfileLine = Annotated[str, AfterValidator(_instruction), TypeName(
    "Modelfile line (PARAMETER, MESSAGE or LICENSE)",
    "one Modelfile line: PARAMETER <real parameter> <value>, MESSAGE <role> <text> or LICENSE <text>")]
"""One raw ``instructions`` line, checked by :func:`check_instruction`."""


class ModelfileMessage(ArgsModel):
    """A MESSAGE line: example conversation turn baked into the variant."""

    role: Literal["system", "user", "assistant"] = Field(description="Message role. Required.")
    content: str = Field(min_length=1, description="Message text. Required.")

    @field_validator("content")
    @classmethod
    def _quotes(cls, value: str) -> str:
        return multi_line(value, "MESSAGE content") or value


class ModelfileVariant(ArgsModel):
    """A named model built with ``ollama create`` from one of the pulled models."""

    name: OllamaModelName = Field(description="Name of the created model (what clients put in `model`). Required; lowercase letters, digits, '.', '_' and '-'.")
    base: str = Field(description="The model it is built FROM: one of `models` (catalog id or pinned tag). Required.")
    parameters: dict[str, ParamValue] = Field(default_factory=dict, description="PARAMETER lines (temperature, num_ctx, top_p, stop, ...). Only Ollama's real parameter names. Default none: the base model's own parameters.")
    system: str | None = Field(default=None, description="SYSTEM prompt. Default None: the base model's system prompt.")
    template: str | None = Field(
        default=None,
        description="TEMPLATE (Go template). Default None: keep the base model's chat template, which is almost always right.",
        # The value is a Go template Ollama runs ({{ .System }}, {{ .Prompt }} ...), so it may carry '{{'.
        json_schema_extra={"templateSyntax": "Ollama executes it as a Go template (chat format)"},
    )
    messages: list[ModelfileMessage] = Field(default_factory=list, description="MESSAGE lines (few-shot turns). Default none.")
    license: str | None = Field(default=None, description="LICENSE text. Default None: inherited from the base model.")
    instructions: list[ModelfileLine] = Field(default_factory=list, description="Extra raw Modelfile lines, each checked (PARAMETER/MESSAGE/LICENSE only). Default none.")

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
        for name, value in params.items():
            check_parameter(name, value)
        return params

    @field_validator("system", "template", "license")
    @classmethod
    def _text(cls, value: str | None, info) -> str | None:
        return multi_line(value, info.field_name.upper())


    @property
    def num_ctx(self) -> int | None:
        value = self.parameters.get("num_ctx")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'  # Ollama strips the quotes and unescapes nothing; '"' is refused in values
    return f"{value:g}" if isinstance(value, float) else str(value)


def render_modelfile(variant: ModelfileVariant, base_tag: str) -> str:
    """The Modelfile text for ``ollama create <variant.name> -f <file>``.

    Read back with Ollama's own grammar (:mod:`components.ollama.modelfile_parser`) before it is used:
    exactly one FROM (``base_tag``), and every multi-line field comes back as the one value it was.
    """
    text = _render(variant, single_line(base_tag, "FROM"))
    _check_read_back(text, variant, base_tag)
    return text


def _check_read_back(text: str, variant: ModelfileVariant, base_tag: str) -> None:
    commands = parse_modelfile(text)
    froms = [c.args for c in commands if c.name == "model"]
    if froms != [base_tag]:
        raise ValueError(f"variant {variant.name}: the Modelfile reads back with FROM {froms}, not [{base_tag!r}]")
    for field in ("system", "template", "license"):
        wanted = getattr(variant, field)
        got = [c.args for c in commands if c.name == field]
        if wanted is not None and wanted not in got:
            raise ValueError(f"variant {variant.name}: {field.upper()} does not read back as one value")
    messages = [c.args for c in commands if c.name == "message"]
    if any(f"{m.role}: {m.content}" not in messages for m in variant.messages):
        raise ValueError(f"variant {variant.name}: a MESSAGE does not read back as one value")
    if any(c.name == "adapter" for c in commands):
        raise ValueError(f"variant {variant.name}: the Modelfile reads back with an ADAPTER")


def _render(variant: ModelfileVariant, base_tag: str) -> str:
    params: list[tuple[str, str]] = []
    for name, value in sorted(variant.parameters.items()):
        for v in value if isinstance(value, list) else [value]:
            params.append((name, _format_value(v)))
    return render_template(
        "Modelfile.j2",
        variant=variant.name,
        base=base_tag,
        parameters=params,
        system=variant.system,
        template=variant.template,
        messages=[(m.role, m.content) for m in variant.messages],
        license=variant.license,
        instructions=variant.instructions,
    )
