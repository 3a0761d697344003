"""The stack-file reference (stacks/README.md), generated from StackConfig's own field descriptions."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from stacks.schema import PROJECT, SECRET_KEYS, StackConfig

__all__ = ["markdown_reference", "json_schema", "all_models"]


def all_models(root: type[BaseModel] = StackConfig) -> list[type[BaseModel]]:
    """Every config model reachable from ``root`` (depth-first, each once)."""
    found: list[type[BaseModel]] = []
    stack = [root]
    while stack:
        model = stack.pop()
        if model in found:
            continue
        found.append(model)
        for field in model.model_fields.values():
            stack.extend(_models_in(field.annotation))
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """The field's real type: a shared value type by its name (``label value``, ``memory quantity``, ...)."""
    named = next((m.name for m in metadata if hasattr(m, "name") and type(m).__name__ == "TypeName"), None)
    if named:
        return named
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0], annotation.__metadata__)
    if isinstance(annotation, type) and not args:
        return "None" if annotation is type(None) else annotation.__name__
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None and args:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _value_types(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    """``(name, what it allows)`` of every named value type in a field's annotation (nested ones included)."""
    found = [(m.name, m.allowed) for m in metadata if type(m).__name__ == "TypeName" and getattr(m, "allowed", "")]
    if typing.get_origin(annotation) is typing.Annotated:
        return found + _value_types(typing.get_args(annotation)[0], annotation.__metadata__)
    return found + [t for arg in typing.get_args(annotation) for t in _value_types(arg)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _value_type_table() -> list[str]:
    types: dict[str, str] = {}
    for model in all_models():
        for field in model.model_fields.values():
            types.update(_value_types(field.annotation, field.metadata))
    rows = [f"| `{_cell(name)}` | {_cell(allowed)} |" for name, allowed in sorted(types.items(), key=lambda t: t[0].lower())]
    return ["## Value types", "", "What each named type in the tables above allows (components/validation.py; a bad",
            "value is refused at load with file, line, key, value and this rule).", "", "| type | allowed |", "|---|---|",
            *rows, ""]


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "`{}`" if isinstance(value, BaseModel) else f"`{json.dumps(to_jsonable_python(value, by_alias=True))}`"
    if field.default is PydanticUndefined:
        return "**required**"
    return f"`{json.dumps(to_jsonable_python(field.default, by_alias=True))}`"


def _section(model: type[BaseModel], title: str, seen: set[type[BaseModel]], out: list[str]) -> None:
    if model in seen:
        return
    seen.add(model)
    out += [f"### {title}", "", (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "", ""]
    out += ["| key | type | default | description |", "|---|---|---|---|"]
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        type_name = _type_name(field.annotation, field.metadata).replace("|", "\\|")
        out.append(f"| `{key}` | `{type_name}` | {_default(field)} | {description} |")
        nested += [(m, f"{title}.{key}" if title != "StackConfig" else key) for m in _models_in(field.annotation)]
    out.append("")
    for sub, sub_title in nested:
        _section(sub, f"{sub_title} ({sub.__name__})" if sub not in seen else sub_title, seen, out)


def markdown_reference() -> str:
    """Every stack-file key, its type, default and description, from the models themselves."""
    out = [
        "# Stack files: `stacks/Pulumi.<stack>.yaml`",
        "",
        "<!-- Generated by `./dev schema > stacks/README.md`; a test keeps it in sync. -->",
        "",
        f"Every key lives under `config:` as `{PROJECT}:<key>`. Unknown keys are errors (with a \"did you mean\").",
        "Pulumi's project schema (Pulumi.yaml) can only type string/integer/boolean/array keys, so the",
        "structured keys below are validated by `stacks/schema.py` (StackConfig) — offline by `./dev preview`,",
        "and under the real engine by the program itself.",
        "",
        "## Secrets",
        "",
        "Set only with `pulumi config set --secret <key> ...`; a plain value is refused.",
        "",
        "| key | what |",
        "|---|---|",
        *[f"| `{key}` | {what} |" for key, what in SECRET_KEYS.items()],
        "",
        "## Keys",
        "",
    ]
    _section(StackConfig, "StackConfig", set(), out)
    out += _value_type_table()
    return "\n".join(out).rstrip() + "\n"


def json_schema() -> dict[str, Any]:
    """JSON Schema of the ``slm-deploy`` config keys (for editors and CI linters)."""
    return StackConfig.model_json_schema(by_alias=True)
