"""What value each `vllm serve` flag takes, read statically from a vLLM release's source (no import: vllm needs torch).

vLLM builds most argparse arguments from config dataclass fields (``get_kwargs(Config)`` in
``vllm/engine/arg_utils.py``, ``_compute_kwargs``): the field's type annotation decides the argparse kwargs.
This module re-does that decision on the source: it resolves each field's annotation (aliases, imports,
``Optional``/``Union``/``|``, ``Annotated``, ``Literal``, ``list``/``tuple``) and applies ``_compute_kwargs``'s
rules in its order, then the keyword arguments and dict edits ``add_cli_args`` adds on top. Used by
``scripts/vllm_flags_from_wheel.py``; the rules mirror vLLM 0.11.0 and the script stops when the source no
longer has the shape they expect.

Kinds (``components/vllm/flags.py`` reads them):
- ``switch``: ``argparse.BooleanOptionalAction`` (no value; ``--no-<flag>`` turns it off);
- ``store_true``: no value, no ``--no-`` form;
- ``int`` / ``size`` (``human_readable_int``: ``8k``) / ``float`` / ``choice``: exactly one value of that type;
- ``multi``: ``nargs="+"`` (one or more; ``element`` int/float/str, ``choices`` when a Literal);
- ``optional``: ``nargs="?"`` (zero or one value);
- ``value``: exactly one value of free form (string, JSON, path, a registry name).
``none_ok``: ``optional_type`` also takes ``None`` / empty for the field (an ``Optional`` annotation).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

TYPING = {"Optional", "Union", "Literal", "Annotated", "List", "Dict", "Tuple", "Any", "Callable", "Type",
          "TypeAlias", "Mapping", "Sequence", "ClassVar", "InitVar"}
TYPING_MODULES = {"typing", "typing_extensions", "collections.abc", "dataclasses"}
BUILTINS = {"int", "float", "str", "bool", "dict", "list", "tuple", "type", "bytes", "object"}
HUMAN_READABLE_INTS = {"max_model_len", "max_num_batched_tokens", "kv_cache_memory_bytes"}


class SourceShapeError(SystemExit):
    """The source is not shaped as these rules expect: update the script, never guess."""


@dataclass(frozen=True)
class Hint:
    """One member of a field's type-hint set (``get_type_hints`` in arg_utils.py)."""

    kind: str  # builtin | none | literal | list | tuple | class | opaque
    name: str = ""
    values: tuple = ()
    args: tuple = ()  # (Hint set, ...) for list/tuple elements
    ellipsis: bool = False
    dataclass: bool = False


@dataclass
class Kwargs:
    """The argparse kwargs that decide how many values a flag takes, and of what type."""

    action: str | None = None
    type: str | None = None  # int | size | float | str | json | bool | optional(...)
    nargs: str | int | None = None
    choices: list[str] | None = None
    none_ok: bool = False
    element: str | None = None
    notes: list[str] = field(default_factory=list)

    def kind(self) -> dict[str, Any]:
        out: dict[str, Any]
        if self.action == "BooleanOptionalAction":
            out = {"kind": "switch"}
        elif self.action == "store_true":
            out = {"kind": "store_true"}
        elif self.nargs == "+" or isinstance(self.nargs, int):
            out = {"kind": "multi", "element": self.element or "str"}
            if isinstance(self.nargs, int):
                out["count"] = self.nargs
            if self.choices:
                out["choices"] = self.choices
        elif self.nargs == "?":
            out = {"kind": "optional"}
        elif self.choices:
            out = {"kind": "choice", "choices": self.choices}
        elif self.type in ("int", "size", "float"):
            out = {"kind": self.type}
        else:
            out = {"kind": "value"}
        if self.none_ok and out["kind"] not in ("switch", "store_true"):
            out["none_ok"] = True
        if self.action not in (None, "BooleanOptionalAction", "store_true"):
            out["action"] = self.action
        return out


class Source:
    """The vllm package of one release, as ASTs keyed by module name."""

    def __init__(self, files: dict[str, str]) -> None:
        self.text = files  # "vllm/config/model.py" -> source
        self.trees: dict[str, ast.Module] = {}

    def module_path(self, module: str) -> str | None:
        base = module.replace(".", "/")
        for path in (f"{base}.py", f"{base}/__init__.py"):
            if path in self.text:
                return path
        return None

    def tree(self, path: str) -> ast.Module:
        if path not in self.trees:
            self.trees[path] = ast.parse(self.text[path])
        return self.trees[path]

    @staticmethod
    def package_of(path: str) -> str:
        parts = path.removesuffix(".py").split("/")
        return ".".join(parts[:-1]) if parts[-1] != "__init__" else ".".join(parts[:-1])

    def absolute(self, path: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = self.package_of(path).split(".")
        if path.endswith("__init__.py"):
            package = package + [] if node.level == 1 else package[: -(node.level - 1)]
        else:
            package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        return ".".join(package + ([node.module] if node.module else []))

    def top_level(self, path: str):
        """Module-level statements, including those inside ``if``/``try`` (TYPE_CHECKING imports, fallbacks)."""
        stack = list(self.tree(path).body)
        while stack:
            node = stack.pop(0)
            if isinstance(node, ast.If):
                stack = node.body + node.orelse + stack
            elif isinstance(node, ast.Try):
                stack = node.body + [s for h in node.handlers for s in h.body] + node.orelse + stack
            else:
                yield node

    def resolve(self, path: str, name: str, depth: int = 0) -> tuple:
        """``name`` as seen in module ``path``: ("alias", path, expr) | ("class", path, ClassDef) |
        ("typing", name) | ("builtin", name) | ("opaque", name)."""
        if depth > 20:
            raise SourceShapeError(f"import cycle resolving {name} from {path}")
        for node in self.top_level(path):
            if isinstance(node, ast.ClassDef) and node.name == name:
                return ("class", path, node)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return ("alias", path, node.value)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name and node.value:
                return ("alias", path, node.value)
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        module = self.absolute(path, node)
                        if module in TYPING_MODULES:
                            return ("typing", alias.name)
                        target = self.module_path(module)
                        if target is None:  # a submodule imported by name, or another package
                            sub = self.module_path(f"{module}.{alias.name}")
                            return ("opaque", f"{module}.{alias.name}") if sub is None else ("module", sub)
                        return self.resolve(target, alias.name, depth + 1)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if (alias.asname or alias.name.split(".")[0]) == name:
                        return ("module", self.module_path(alias.name) or alias.name)
        if name in BUILTINS or name == "None":
            return ("builtin", name)
        return ("opaque", name)

    def is_dataclass(self, cls: ast.ClassDef) -> bool:
        def name(d: ast.expr) -> str:
            d = d.func if isinstance(d, ast.Call) else d
            return d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "")
        return any(name(d) == "dataclass" for d in cls.decorator_list)

    # ------------------------------------------------------------------ type hints
    def hints(self, path: str, expr: ast.expr) -> set[Hint]:
        """The set ``get_type_hints`` returns for the annotation ``expr`` in module ``path``."""
        if isinstance(expr, ast.Constant):
            if expr.value is None:
                return {Hint("none")}
            if isinstance(expr.value, str):  # a forward reference
                return self.hints(path, ast.parse(expr.value, mode="eval").body)
            raise SourceShapeError(f"{path}:{expr.lineno}: constant {expr.value!r} as a type")
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return self.hints(path, expr.left) | self.hints(path, expr.right)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            return self._named(path, expr)
        if isinstance(expr, ast.Subscript):
            return self._subscript(path, expr)
        return {Hint("opaque", ast.unparse(expr))}

    def _target(self, path: str, expr: ast.expr) -> tuple:
        if isinstance(expr, ast.Name):
            return self.resolve(path, expr.id)
        if isinstance(expr, ast.Attribute):
            base = self._target(path, expr.value)
            if base[0] == "module" and base[1] in self.text:
                return self.resolve(base[1], expr.attr)
            if base[0] == "module" and base[1] in TYPING_MODULES:
                return ("typing", expr.attr)
            return ("opaque", ast.unparse(expr))
        return ("opaque", ast.unparse(expr))

    def _named(self, path: str, expr: ast.expr) -> set[Hint]:
        target = self._target(path, expr)
        if target[0] == "builtin":
            return {Hint("none")} if target[1] == "None" else {Hint("builtin", target[1])}
        if target[0] == "alias":
            return self.hints(target[1], target[2])
        if target[0] == "class":
            return {Hint("class", target[2].name, dataclass=self.is_dataclass(target[2]))}
        if target[0] == "typing" and target[1] in ("List", "Dict", "Tuple"):
            raise SourceShapeError(f"{path}:{expr.lineno}: bare typing.{target[1]} without arguments")
        return {Hint("opaque", target[1] if len(target) > 1 else ast.unparse(expr))}

    def _subscript(self, path: str, expr: ast.Subscript) -> set[Hint]:
        target = self._target(path, expr.value)
        name = target[1] if target[0] in ("typing", "builtin") else ""
        args = list(expr.slice.elts) if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if target[0] == "opaque" and target[1].split(".")[-1] == "SkipValidation":
            return self.hints(path, args[0])  # pydantic: SkipValidation[X] is Annotated[X, SkipValidation()]
        if name == "Optional":
            return self.hints(path, args[0]) | {Hint("none")}
        if name == "Union":
            return set().union(*(self.hints(path, a) for a in args))
        if name in ("Annotated", "ClassVar", "InitVar"):
            return self.hints(path, args[0]) if name == "Annotated" else {Hint("classvar")}
        if name == "Literal":
            return {Hint("literal", values=tuple(self._literal_values(path, args)))}
        if name in ("list", "List"):
            return {Hint("list", args=(frozenset(self.hints(path, args[0])),))}
        if name in ("tuple", "Tuple"):
            ellipsis = any(isinstance(a, ast.Constant) and a.value is Ellipsis for a in args)
            elems = tuple(frozenset(self.hints(path, a)) for a in args if not (isinstance(a, ast.Constant) and a.value is Ellipsis))
            return {Hint("tuple", args=elems, ellipsis=ellipsis, values=(len(elems),))}
        if name in ("dict", "Dict"):
            return {Hint("builtin", "dict")}
        return {Hint("opaque", ast.unparse(expr))}

    def _literal_values(self, path: str, args: list[ast.expr]) -> list:
        values: list = []
        for arg in args:
            if isinstance(arg, ast.Constant):
                values.append(arg.value)
                continue
            nested = self.hints(path, arg)
            if len(nested) != 1 or next(iter(nested)).kind != "literal":
                raise SourceShapeError(f"{path}:{arg.lineno}: Literal member {ast.unparse(arg)} is not a literal")
            values += list(next(iter(nested)).values)
        return values

    # ------------------------------------------------------------------ dataclass fields
    def fields(self, path: str, cls: ast.ClassDef) -> dict[str, tuple[str, ast.AnnAssign]]:
        """Dataclass fields of ``cls`` (bases first), name -> (module path, annotation node); ClassVars left out."""
        out: dict[str, tuple[str, ast.AnnAssign]] = {}
        for base in cls.bases:
            target = self._target(path, base)
            if target[0] == "class":
                out.update(self.fields(target[1], target[2]))
        for item in cls.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if any(h.kind == "classvar" for h in self.hints(path, item.annotation)):
                    continue
                out[item.target.id] = (path, item)
        return out


def compute_kwargs(source: Source, name: str, path: str, annotation: ast.expr) -> Kwargs:
    """``_compute_kwargs`` for one field, in its order of rules."""
    hints = source.hints(path, annotation)
    kinds = {h.kind for h in hints}
    builtins = {h.name for h in hints if h.kind == "builtin"}
    kw = Kwargs()
    literal = next((h for h in hints if h.kind == "literal"), None)
    if any(h.kind == "class" and h.dataclass for h in hints):
        kw.type = "json"
    elif "bool" in builtins:
        kw.action = "BooleanOptionalAction"
    elif literal is not None:
        if "str" in builtins:
            kw.type = "str"  # metavar, not choices
        else:
            kw.type = _python_type(literal.values[0])
            kw.choices = [str(v) for v in sorted(literal.values)]
    elif "tuple" in kinds:
        tup = next(h for h in hints if h.kind == "tuple")
        kw.nargs = "+" if tup.ellipsis else tup.values[0]
        kw.element, kw.choices = _element(tup.args[0])
    elif "list" in kinds:
        lst = next(h for h in hints if h.kind == "list")
        kw.nargs = "+"
        kw.element, kw.choices = _element(lst.args[0])
    elif "int" in builtins:
        kw.type = "size" if name in HUMAN_READABLE_INTS else "int"
    elif "float" in builtins:
        kw.type = "float"
    elif "dict" in builtins:
        kw.type = "json"
    elif "str" in builtins or kinds & {"class", "opaque"}:
        kw.type = "str"
    else:
        raise SourceShapeError(f"{path}:{annotation.lineno}: unsupported type {hints} for {name}")
    if "none" in kinds and "bool" not in builtins:
        kw.none_ok = True
        if kw.choices and kw.nargs is None:
            kw.choices.append("None")
    return kw


def _python_type(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


def _element(hints: frozenset) -> tuple[str, list[str] | None]:
    """The element type of a list/tuple field (a Union element is read as str, as vLLM does)."""
    members = [h for h in hints if h.kind != "none"]
    if len(members) != 1:
        return "str", None
    only = members[0]
    if only.kind == "literal":
        return _python_type(only.values[0]), [str(v) for v in sorted(only.values)]
    if only.kind == "builtin" and only.name in ("int", "float"):
        return only.name, None
    return "str", None


# ---------------------------------------------------------------------- add_cli_args
_TYPE_NAMES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "human_readable_int": "size"}


def _call_name(expr: ast.expr) -> str:
    expr = expr.func if isinstance(expr, ast.Call) else expr
    return expr.attr if isinstance(expr, ast.Attribute) else getattr(expr, "id", ast.unparse(expr))


def apply_keyword(kw: Kwargs, key: str, value: ast.expr, env: dict[str, Any], where: str) -> None:
    """An explicit keyword of add_argument, or a ``kwargs[field][key] = value`` edit."""
    if key == "action":
        if isinstance(value, ast.Constant):
            kw.action = value.value
        else:
            kw.action = _call_name(value)
    elif key == "type":
        if isinstance(value, ast.Name) and value.id in env:
            value = env[value.id]
        name = _call_name(value)
        if name == "optional_type" and isinstance(value, ast.Call):
            kw.none_ok = True
            name = _call_name(value.args[0])
        kw.type = _TYPE_NAMES.get(name, "json" if name in ("loads", "parse_type") else "str")
        if kw.nargs is None:
            kw.choices = kw.choices if name in ("int", "float", "str") else None
    elif key == "nargs":
        kw.nargs = value.value if isinstance(value, ast.Constant) else "+"
    elif key == "choices":
        if isinstance(value, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in value.elts):
            kw.choices = [str(e.value) for e in value.elts]
        else:  # built at run time from a registry (parsers): any name
            kw.choices = None
            kw.notes.append(f"choices from a run-time registry ({ast.unparse(value)}), not enforced: {where}")


def _kwargs_ref(node: ast.expr) -> tuple[str, str] | None:
    """``var["field"]`` -> (var, field)."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and isinstance(node.slice, ast.Constant):
        return node.value.id, node.slice.value
    return None


class CliArgs:
    """Walks ``add_cli_args`` bodies and records each flag's kwargs."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.flags: dict[str, dict[str, Any]] = {}

    def field_kwargs(self, path: str, cls_name: str, module_path: str) -> tuple[dict[str, Kwargs], dict[str, str]]:
        target = self.source.resolve(module_path, cls_name)
        if target[0] != "class":
            raise SourceShapeError(f"{module_path}: {cls_name} is not a class in this release")
        kwargs, where = {}, {}
        for name, (fpath, node) in self.source.fields(target[1], target[2]).items():
            kwargs[name] = compute_kwargs(self.source, name, fpath, node.annotation)
            where[name] = f"{fpath}:{node.lineno}"
        return kwargs, where

    def walk(self, path: str, func: ast.FunctionDef, classes: dict[str, str] | None = None) -> None:
        """``classes``: kwargs variables bound outside the body (``frontend_kwargs`` -> its class)."""
        state: dict[str, tuple[dict[str, Kwargs], dict[str, str]]] = {}
        for var, cls in (classes or {}).items():
            state[var] = self.field_kwargs(path, cls, path)
        self._statements(path, func.body, state, {})

    def _statements(self, path: str, body: list[ast.stmt], state: dict, env: dict) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and _call_name(stmt.value) == "get_kwargs":
                var = stmt.targets[0].id
                state[var] = self.field_kwargs(path, stmt.value.args[0].id, path)
                continue
            edit = self._edit(stmt)
            if edit is not None:
                var, fname, key, value, op = edit
                if var in state and fname in state[var][0]:
                    kw = state[var][0][fname]
                    where = f"{path}:{stmt.lineno}"
                    if op == "del":
                        setattr(kw, key, None) if key in ("nargs", "choices", "action") else None
                    elif op == "aug" and key == "choices":
                        kw.choices = None
                        kw.notes.append(f"choices extended at run time, not enforced: {where}")
                    elif key in ("type", "action", "nargs", "choices"):
                        apply_keyword(kw, key, value, env, where)
                    if key in ("type", "action", "nargs", "choices") and op != "aug":
                        kw.notes.append(f"{key} {'removed' if op == 'del' else 'set'} at {where}")
                continue
            if isinstance(stmt, ast.For):
                self._for(path, stmt, state, env)
                continue
            if isinstance(stmt, (ast.If, ast.With, ast.Try)):
                inner = stmt.body + getattr(stmt, "orelse", [])
                self._statements(path, inner, state, env)
                continue
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and _call_name(node) == "add_argument":
                    self._add_argument(path, node, state, env)

    @staticmethod
    def _edit(stmt: ast.stmt) -> tuple | None:
        """``var["field"]["key"] = v`` / ``+= v`` / ``del var["field"]["key"]`` (also under ``if``)."""
        if isinstance(stmt, ast.If) and len(stmt.body) == 1 and not stmt.orelse:
            return CliArgs._edit(stmt.body[0])
        if isinstance(stmt, ast.Delete) and len(stmt.targets) == 1:
            target, value, op = stmt.targets[0], None, "del"
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value, op = stmt.targets[0], stmt.value, "set"
        elif isinstance(stmt, ast.AugAssign):
            target, value, op = stmt.target, stmt.value, "aug"
        else:
            return None
        if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
            ref = _kwargs_ref(target.value)
            if ref is not None:
                return ref[0], ref[1], target.slice.value, value, op
        return None

    def _for(self, path: str, stmt: ast.For, state: dict, env: dict) -> None:
        # for arg, type in [("--flag", str), ...]: add_argument(arg, type=type, ...)
        if isinstance(stmt.iter, (ast.List, ast.Tuple)) and isinstance(stmt.target, ast.Tuple):
            names = [t.id for t in stmt.target.elts]
            for item in stmt.iter.elts:
                self._statements(path, stmt.body, state, {**env, **dict(zip(names, item.elts))})
            return
        # for key, value in frontend_kwargs.items(): add_argument(f"--{key...}", **value)
        if isinstance(stmt.iter, ast.Call) and _call_name(stmt.iter) == "items":
            var = stmt.iter.func.value.id
            key_name, value_name = (t.id for t in stmt.target.elts)
            for fname in state[var][0]:
                option = ast.Constant("--" + fname.replace("_", "-"), lineno=stmt.lineno)
                self._statements(path, stmt.body, state, {**env, key_name: option, value_name: (var, fname)})
            return
        raise SourceShapeError(f"{path}:{stmt.lineno}: a loop in add_cli_args this script cannot read")

    def _add_argument(self, path: str, call: ast.Call, state: dict, env: dict) -> None:
        options = []
        for arg in call.args:
            arg = env.get(arg.id, arg) if isinstance(arg, ast.Name) else arg
            if isinstance(arg, ast.JoinedStr):
                continue  # f"--{key}" inside the FrontendArgs loop: bound through env as a Constant
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("-"):
                options.append(arg.value)
        if not options:
            for arg in call.args:
                if isinstance(arg, ast.JoinedStr):
                    bound = [v for v in env.values() if isinstance(v, ast.Constant) and str(v.value).startswith("--")]
                    options += [bound[0].value] if bound else []
        long_options = [o for o in options if o.startswith("--")]
        if not long_options:
            return
        kw, where = Kwargs(), f"{path}:{call.lineno}"
        for keyword in call.keywords:
            if keyword.arg is None:  # **kwargs["field"] or **value (loop variable)
                ref = _kwargs_ref(keyword.value)
                if ref is None and isinstance(keyword.value, ast.Name) and isinstance(env.get(keyword.value.id), tuple):
                    ref = env[keyword.value.id]
                if ref is None or ref[0] not in state:
                    raise SourceShapeError(f"{where}: **{ast.unparse(keyword.value)} is not a get_kwargs() entry")
                base = state[ref[0]][0][ref[1]]
                kw = Kwargs(base.action, base.type, base.nargs, list(base.choices) if base.choices else None,
                            base.none_ok, base.element, list(base.notes))
                where = f"{state[ref[0]][1][ref[1]]} (field), {path}:{call.lineno} (flag)"
        for keyword in call.keywords:
            if keyword.arg is not None:
                apply_keyword(kw, keyword.arg, keyword.value, env, where)
        for option in long_options:
            entry = kw.kind()
            entry["from"] = where
            if kw.notes:
                entry["notes"] = sorted(set(kw.notes))
            self.flags.setdefault(option, entry)


def method(tree: ast.Module, cls: str, name: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    raise SourceShapeError(f"{cls}.{name} not found: the release's layout changed, update this script")


def flag_kinds(files: dict[str, str], arg_utils: str, cli_args: str) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Kinds of every flag ``vllm serve`` registers, from the sources in ``files`` (path -> text), and the
    paths of the files read to decide them."""
    source = Source(files)
    walker = CliArgs(source)
    engine = source.tree(arg_utils)
    walker.walk(arg_utils, method(engine, "EngineArgs", "add_cli_args"))
    walker.walk(arg_utils, method(engine, "AsyncEngineArgs", "add_cli_args"))
    frontend = source.tree(cli_args)
    add = method(frontend, "FrontendArgs", "add_cli_args")
    walker.walk(cli_args, add)
    make_parser = next(n for n in frontend.body if isinstance(n, ast.FunctionDef) and n.name == "make_arg_parser")
    walker.walk(cli_args, make_parser)
    return dict(sorted(walker.flags.items())), set(source.trees)
