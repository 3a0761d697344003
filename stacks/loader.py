"""The stack loader: Pulumi.yaml defaults + stacks/Pulumi.<stack>.yaml -> StackConfig (validated once).

The Pulumi CLI merges project defaults into stack config; the SDK does not, so the
offline path does it here, the same way. ``secure:`` values are never decrypted:
offline they become opaque placeholders and are only ever handled as secrets.

Every problem is reported as one located line (file:line: key = value: what is
allowed); nothing is built while any problem remains.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from components.validation import Located, error_message
from stacks.errors import ConfigError, MissingSecretError, Problem
from components.gateway.keys import CONFIG_KEY as CLIENT_KEYS
from stacks.schema import PROJECT, SECRET_KEYS, StackConfig, template_syntax, template_syntax_raw
from stacks.yaml_reader import read_yaml

__all__ = [
    "LoadedStack",
    "project_root",
    "build_root",
    "list_stacks",
    "load_stack",
    "validate_values",
    "check_secrets",
    "secret_placeholder",
    "secret_setting_lines",
    "runtime_config",
]

_PY_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def project_root() -> Path:
    """The project directory: the one holding Pulumi.yaml and this stacks/ folder."""
    return Path(__file__).resolve().parent.parent


BUILD_ROOT_ENV = "SLM_DEPLOY_BUILD_ROOT"


def build_root(root: Path | None = None) -> Path:
    """Where a stack's gate renders ``<stack>/``: ``$SLM_DEPLOY_BUILD_ROOT``, else ``<project>/build``
    (the ``build/<stack>/`` that ``slm-deploy preview`` writes). Tests point it under their tmp_path."""
    import os

    env = os.environ.get(BUILD_ROOT_ENV)
    return Path(env) if env else (root or project_root()) / "build"


def secret_placeholder(key: str) -> str:
    """What a secret config value is offline: a marker, never the (encrypted) value."""
    return f"[secret:{key}]"


@dataclass
class LoadedStack:
    """A stack's configuration, validated, plus what the runtime needs to replay it."""

    name: str
    file: Path
    config: StackConfig
    values: dict[str, Any]
    """``slm-deploy`` keys (unqualified) -> values, defaults merged in."""
    secret_keys: set[str] = field(default_factory=set)
    """Unqualified keys whose values are secrets (placeholders offline)."""
    foreign: dict[str, Any] = field(default_factory=dict)
    """Other namespaces' keys (``kubernetes:context`` ...), passed through unchanged."""
    placeholder_secrets: list[Problem] = field(default_factory=list)
    """Why each secret the configuration needs but the stack file does not set is needed (located), when
    loaded with ``offline=True``: the offline preview runs on placeholders, the real engine would refuse."""
    placeholder_keys: list[str] = field(default_factory=list)
    """Those secrets' keys (e.g. ``hfToken``), each a placeholder offline."""


# --------------------------------------------------------------------------- project defaults


def _qualify(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def _project_schema(root: Path) -> dict[str, dict[str, Any]]:
    """Pulumi.yaml ``config:`` declarations, keyed by unqualified slm-deploy key."""
    doc = read_yaml(root / "Pulumi.yaml", "Pulumi.yaml")
    if doc.problems:
        raise ConfigError(doc.problems)
    data = doc.data if isinstance(doc.data, dict) else {}
    schema: dict[str, dict[str, Any]] = {}
    for key, decl in ((data or {}).get("config") or {}).items():
        namespace, _, name = _qualify(key).partition(":")
        if namespace == PROJECT:
            schema[name] = decl if isinstance(decl, dict) else {"default": decl}
    return schema


# --------------------------------------------------------------------------- stack file


def list_stacks(root: Path | None = None) -> list[str]:
    root = root or project_root()
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml"))


def load_stack(stack: str, root: Path | None = None, *, offline: bool = False) -> LoadedStack:
    """Read, merge and validate one stack. Raises :class:`ConfigError` listing every problem.

    A secret the configuration needs (the hfToken of a gated model) but the file does not set is a
    :class:`MissingSecretError` for the real engine. ``offline=True`` (the offline preview, gate, export,
    listing): it is stood in for by a placeholder, like every secret offline, and reported in
    ``placeholder_secrets`` so the caller can say what ``pulumi up`` will need.
    """
    root = root or project_root()
    display = f"stacks/Pulumi.{stack}.yaml"
    path = root / display
    if not path.exists():
        known = ", ".join(list_stacks(root)) or "none"
        raise ConfigError([Problem(display, "", f"no such stack file (stacks: {known})", has_value=False)])
    doc = read_yaml(path, display)
    data, lines = ({} if doc.data is None else doc.data), doc.lines
    if not isinstance(data, dict):
        raise ConfigError(doc.problems + [Problem(
            display, "", f"the file must be a mapping with a 'config:' key, not {_kind(data)}", line=doc.root_line,
            has_value=False)])
    if not isinstance(data.get("config") or {}, dict):
        raise ConfigError(doc.problems + [Problem(
            display, "config", f"must be a mapping of 'namespace:key: value', not {_kind(data['config'])}",
            line=lines.get("config"), has_value=False)])

    schema = _project_schema(root)
    problems: list[Problem] = list(doc.problems)
    values: dict[str, Any] = {k: d["default"] for k, d in schema.items() if "default" in d}
    secret_keys: set[str] = set()
    client_key_names: list[str] = []
    foreign: dict[str, Any] = {}
    known_keys = sorted(set(_field_aliases(StackConfig)) | set(SECRET_KEYS))

    for full_key, value in (data.get("config") or {}).items():
        namespace, _, name = _qualify(str(full_key)).partition(":")
        line = lines.get(f"config.{full_key}")
        if namespace != PROJECT:
            foreign[f"{namespace}:{name}"] = value
            continue
        if name not in known_keys:
            problems.append(Problem(display, f"{PROJECT}:{name}", _unknown(name, known_keys), value, line))
            continue
        if name == CLIENT_KEYS and isinstance(value, dict) and set(value) != {"secure"}:
            # `pulumi config set --secret --path 'clientKeys.<client>' KEY`: an object with secure leaves.
            found = _secure_object_problems(value, display, lines, f"config.{full_key}")
            problems += found
            if not found:
                secret_keys.add(name)
                values[name] = secret_placeholder(name)
                client_key_names = [str(k) for k in value]
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            if name not in SECRET_KEYS:
                problems.append(Problem(display, f"{PROJECT}:{name}", "is not a secret key; set it in plain text", has_value=False, line=line))
                continue
            secret_keys.add(name)
            values[name] = secret_placeholder(name)
            continue
        if name in SECRET_KEYS:
            problems.append(
                Problem(display, f"{PROJECT}:{name}", f"must be a secret: run `pulumi config set --secret {name} ...` (stack {stack})", has_value=False, line=line)
            )
            continue
        declared = schema.get(name, {}).get("type")
        if declared in _PY_TYPES and not _is_type(value, _PY_TYPES[declared]):
            problems.append(Problem(display, f"{PROJECT}:{name}", f"must be {declared} (Pulumi.yaml declares type {declared})", value, line))
            continue
        values[name] = value

    try:
        config = validate_values({k: v for k, v in values.items() if k not in SECRET_KEYS}, display, lines)
    except ConfigError as exc:
        # Independent problems are reported together; errors at an alias (already refused) are noise.
        found = problems + [p for p in exc.problems if not _under(p.key, doc.dropped)]
        raise ConfigError(sorted(found, key=lambda p: p.line or 0)) from None
    problems += _client_key_names(config, client_key_names, display, lines)
    if problems:
        raise ConfigError(problems)
    placeholders: list[Problem] = []
    placeholder_keys: list[str] = []
    try:
        check_secrets(config, secret_keys, display, lines)
    except MissingSecretError as exc:
        if not offline:
            raise
        placeholders, placeholder_keys = exc.problems, exc.secrets
        for key in exc.secrets:
            secret_keys.add(key)
            values[key] = secret_placeholder(key)
    return LoadedStack(stack, path, config, values, secret_keys, foreign, placeholders, placeholder_keys)


def _secure_object_problems(value: dict, display: str, lines: dict[str, int], path: str) -> list[Problem]:
    """``clientKeys`` set with ``--path``: every leaf must be ``{secure: ...}`` (a list of them per client allowed)."""
    problems = []
    for client, leaf in value.items():
        leaves = leaf if isinstance(leaf, list) and leaf else [leaf]
        for i, item in enumerate(leaves):
            if not (isinstance(item, dict) and set(item) == {"secure"}):
                where = f"{CLIENT_KEYS}.{client}" + (f"[{i}]" if isinstance(leaf, list) else "")
                problems.append(Problem(display, f"{PROJECT}:{where}",
                                        f"must be a secret: pulumi config set --secret --path '{where}' KEY",
                                        has_value=False, line=lines.get(f"{path}.{client}") or lines.get(path)))
    return problems


def _client_key_names(config: StackConfig, names: list[str], display: str, lines: dict[str, int]) -> list[Problem]:
    """Every client named under ``clientKeys`` is a named client of this stack (gateway or a single proxy)."""
    if not names:
        return []
    clients = config.client_names()
    allowed = f"named clients: {', '.join(clients)}" if clients else "this stack has no named clients (gateway.clients, ollama.apiClients, onnxEdge[].apiClients)"
    return [Problem(display, f"{PROJECT}:{CLIENT_KEYS}.{name}", f"not a named client; {allowed}", has_value=False,
                    line=lines.get(f"config.{PROJECT}:{CLIENT_KEYS}.{name}"))
            for name in names if name not in clients]


def check_secrets(config: StackConfig, secret_keys: set[str], display: str, lines: dict[str, int] | None = None) -> None:
    """Every secret the configuration needs is set (as a secret); located errors otherwise."""
    lines = lines or {}
    stack = display.removeprefix("stacks/Pulumi.").removesuffix(".yaml")
    missing = [(path, value, key, why) for path, value, key, why in config.secrets_needed() if key not in secret_keys]
    problems = [
        Problem(display, f"{PROJECT}:{path}", f"{why}: pulumi config set --secret {key} --stack {stack}", value,
                lines.get(f"config.{PROJECT}:{path}") or _nearest_line(lines, f"config.{PROJECT}:{path}"))
        for path, value, key, why in missing
    ]
    if problems:
        raise MissingSecretError(problems, [key for _, _, key, _ in missing])


def secret_setting_lines(stack: str, keys: list[str]) -> list[str]:
    """How to set secret ``keys`` of ``stack``: the Pulumi command and the stack-file form it writes."""
    lines = []
    for key in keys:
        lines += [f"  pulumi config set --secret {key} --stack {stack}   (prompts for the value; the Pulumi CLI)",
                  f"  writes stacks/Pulumi.{stack}.yaml (encrypted by the stack's secrets provider):",
                  "    config:",
                  f"      {PROJECT}:{key}:",
                  "        secure: <ciphertext>"]
    return lines


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def _under(key: str, dropped: set[str]) -> bool:
    path = f"config.{key}"
    return any(path == d or path.startswith((d + ".", d + "[")) for d in dropped)


def _is_type(value: Any, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _unknown(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown key; {hint}allowed: {', '.join(allowed)}"


# --------------------------------------------------------------------------- validation


def _field_aliases(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Walk a pydantic model class along an error location to the model that holds the last key."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = {f.alias or n: f for n, f in current.model_fields.items()} | dict(current.model_fields)
        if part not in fields:
            return current
        annotation = fields[part].annotation
        # Unwrap Optional[...] / list[...] / dict[str, ...] to the model inside.
        while typing.get_args(annotation):
            inner = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            if inner:
                annotation = inner[0]
                break
            annotation = typing.get_args(annotation)[-1]
        current = annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _loc_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_values(values: dict[str, Any], display: str, lines: dict[str, int] | None = None) -> StackConfig:
    """Build StackConfig; map each pydantic error to a located, one-line :class:`Problem`."""
    lines = lines or {}
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
            # Drop pydantic's union/tag segments (e.g. 'list[...]', 'tagged-union[...]').
            loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
            error = (err.get("ctx") or {}).get("error")
            if isinstance(error, Located):
                # A model-level rule that names the offending entries: one located line per entry.
                for sub, message in error.problems:
                    problems.append(_problem(display, lines, loc + tuple(sub), message, _value_at(values, loc + tuple(sub))))
                continue
            path = _loc_path(loc)
            key = f"{PROJECT}:{path}" if path else f"{PROJECT}"
            line = lines.get(f"config.{key}") or _nearest_line(lines, f"config.{key}")
            message = error_message(err)
            if err["type"] == "extra_forbidden":
                owner = _model_at(StackConfig, loc[:-1])
                allowed = sorted(_field_aliases(owner)) if owner else []
                message = _unknown(str(loc[-1]), allowed)
            if err["type"] == "missing":
                problems.append(Problem(display, key, "required key is missing", has_value=False, line=line))
                continue
            # A whole mapping (a model-level rule) is not shown: its message names the fields involved.
            has_value = not isinstance(err.get("input"), dict)
            problems.append(Problem(display, key, message, err.get("input"), line, has_value=has_value))
        # Template syntax elsewhere is an independent problem: report it now too (not on a path already refused).
        refused = {p.key for p in problems}
        problems += [p for p in _template_problems(template_syntax_raw(values), display, lines) if p.key not in refused]
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0)) from None
    refused = _template_problems(template_syntax(config), display, lines)
    if refused:
        raise ConfigError(refused)
    return config


def _template_problems(found: list[tuple[str, str, str]], display: str, lines: dict[str, int]) -> list[Problem]:
    return [
        Problem(display, f"{PROJECT}:{path}", why, value,
                lines.get(f"config.{PROJECT}:{path}") or _nearest_line(lines, f"config.{PROJECT}:{path}"))
        for path, value, why in found
    ]


def _problem(display: str, lines: dict[str, int], loc: tuple[Any, ...], message: str, value: Any) -> Problem:
    path = _loc_path(loc)
    key = f"{PROJECT}:{path}" if path else PROJECT
    line = lines.get(f"config.{key}") or _nearest_line(lines, f"config.{key}")
    return Problem(display, key, message, value, line, has_value=not isinstance(value, (dict, type(None))))


def _value_at(values: Any, loc: tuple[Any, ...]) -> Any:
    """The raw config value at a pydantic location (aliases as written), or None."""
    current = values
    for part in loc:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            return None
    return current


def _nearest_line(lines: dict[str, int], path: str) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return None
        path = path[:cut]
    return None


# --------------------------------------------------------------------------- runtime


def _yaml_scalar(value: Any) -> str:
    """YAML scalars JSON lacks (an unquoted ``2027-04-30`` is a date): as the CLI passes them, ISO text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a config value")


def runtime_config(stack: LoadedStack) -> tuple[dict[str, str], list[str]]:
    """The config map the Pulumi runtime sees (as the CLI would pass it), plus the secret keys."""
    encoded: dict[str, str] = {}
    for name, value in stack.values.items():
        encoded[f"{PROJECT}:{name}"] = value if isinstance(value, str) else json.dumps(value, default=_yaml_scalar)
    for key, value in stack.foreign.items():
        encoded[key] = value if isinstance(value, str) else json.dumps(value, default=_yaml_scalar)
    return encoded, [f"{PROJECT}:{k}" for k in sorted(stack.secret_keys)]
