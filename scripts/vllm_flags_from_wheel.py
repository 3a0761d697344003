"""Generate the `vllm serve` flag list of a released vLLM wheel, read as source (no import: vllm needs torch).

    pip download vllm==0.11.0 --no-deps -d /tmp/wheels
    uv run python scripts/vllm_flags_from_wheel.py /tmp/wheels/vllm-0.11.0-*.whl components/vllm/flags.json

Where the flags come from (the same places `vllm serve` builds its parser from):
- ``vllm/engine/arg_utils.py``: every option string of an ``add_argument`` call inside
  ``EngineArgs.add_cli_args`` and ``AsyncEngineArgs.add_cli_args`` (including the deprecated ones added
  in a loop over ``("--flag", type)`` tuples);
- ``vllm/entrypoints/openai/cli_args.py``: ``FrontendArgs.add_cli_args`` turns every ``FrontendArgs``
  field into ``--field-name``; ``make_arg_parser`` adds ``--headless``, ``--api-server-count`` (``-asc``)
  and ``--config``.
Each flag is written with the file and line that defines it, and the file carries the wheel's version
and sha256, so a version bump regenerates it and tests/components/vllm/test_vllm_flags.py catches a stale list.

What value each flag takes (``kinds``: switch, int, choice and its choices, ...) is read from the same source
by ``scripts/vllm_arg_kinds.py``, which re-does ``get_kwargs``' type-annotation rules on the config dataclasses;
``sources`` records the sha256 of every file of the wheel that was read.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from vllm_arg_kinds import flag_kinds  # noqa: E402

ARG_UTILS = "vllm/engine/arg_utils.py"
CLI_ARGS = "vllm/entrypoints/openai/cli_args.py"
OPTION = re.compile(r"^-{1,2}[A-Za-z][A-Za-z0-9-]*$")


def _method(tree: ast.Module, cls: str, name: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    raise SystemExit(f"{cls}.{name} not found: the wheel's layout changed, update this script")


def _options(func: ast.AST) -> list[tuple[str, int]]:
    """Option strings of add_argument calls in ``func`` (positional args, or tuples a loop feeds them)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            found += [(a.value, a.lineno) for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str) and OPTION.match(a.value)]
        if isinstance(node, ast.For):  # for arg, type in [("--flag", str), ...]: group.add_argument(arg, ...)
            for const in ast.walk(node.iter):
                if isinstance(const, ast.Constant) and isinstance(const.value, str) and OPTION.match(const.value):
                    found.append((const.value, const.lineno))
    return found


def _frontend_fields(tree: ast.Module) -> list[tuple[str, int]]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "FrontendArgs":
            return [(f"--{item.target.id.replace('_', '-')}", item.lineno) for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)]
    raise SystemExit("FrontendArgs not found: the wheel's layout changed, update this script")


def flags_from_wheel(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        version = next(n.split("/")[0].removeprefix("vllm-").removesuffix(".dist-info")
                       for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        files = {n: zf.read(n).decode() for n in zf.namelist() if n.startswith("vllm/") and n.endswith(".py")}
    engine = ast.parse(files[ARG_UTILS])
    frontend = ast.parse(files[CLI_ARGS])
    kinds, read = flag_kinds(files, ARG_UTILS, CLI_ARGS)
    sources = [(ARG_UTILS, o) for o in _options(_method(engine, "EngineArgs", "add_cli_args"))]
    sources += [(ARG_UTILS, o) for o in _options(_method(engine, "AsyncEngineArgs", "add_cli_args"))]
    sources += [(CLI_ARGS, o) for o in _frontend_fields(frontend)]
    make_parser = next(n for n in frontend.body if isinstance(n, ast.FunctionDef) and n.name == "make_arg_parser")
    sources += [(CLI_ARGS, o) for o in _options(make_parser)]
    flags: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for path, (option, line) in sources:
        if option.startswith("--"):
            flags.setdefault(option, f"{path}:{line}")
    # A short alias is the other option string of the same add_argument call (same file, same line block).
    for node in ast.walk(engine):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            opts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str) and OPTION.match(a.value)]
            longs, shorts = [o for o in opts if o.startswith("--")], [o for o in opts if not o.startswith("--")]
            if len(longs) == 1:
                aliases.update({s: longs[0] for s in shorts})
    for node in ast.walk(make_parser):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            opts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str) and OPTION.match(a.value)]
            longs, shorts = [o for o in opts if o.startswith("--")], [o for o in opts if not o.startswith("--")]
            if len(longs) == 1:
                aliases.update({s: longs[0] for s in shorts})
    return {
        "generator": "scripts/vllm_flags_from_wheel.py",
        "wheel": wheel.name,
        "version": version,
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "sources": {path: hashlib.sha256(files[path].encode()).hexdigest() for path in sorted(read | {ARG_UTILS, CLI_ARGS})},
        "flags": dict(sorted(flags.items())),
        "short_aliases": dict(sorted(aliases.items())),
        "kinds": kinds,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    data = flags_from_wheel(Path(argv[0]))
    Path(argv[1]).write_text(json.dumps(data, indent=1) + "\n")
    missing = sorted(set(data["flags"]) ^ set(data["kinds"]))
    if missing:  # both lists read the same add_argument calls: a difference is a bug in one of them
        raise SystemExit(f"flags and kinds disagree on {missing}")
    print(f"{len(data['flags'])} flags, {len(data['short_aliases'])} short aliases from vLLM {data['version']} -> {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
