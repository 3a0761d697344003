"""The import contract (README "Layout", docs/architecture.md), enforced on the source.

Every import counts, wherever it sits: at module level, inside a function (a lazy import) or under
``if TYPE_CHECKING``. A lazy import may keep a heavy SDK off a fast path; it may not hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("components", "stacks", "slm_deploy", "policies")
# The ONNX edge server runs inside its own image (stdlib + onnxruntime-genai), not in this program.
OUTSIDE = ("components/onnx_edge/server/",)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(OUTSIDE):
                continue
            parts = rel[:-3].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> set[str]:
    """Our modules that ``module`` imports (the most specific module each import names)."""
    out: set[str] = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path.name == "__init__.py")
            names = [f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def _packages_run_first(module: str, target: str) -> set[str]:
    """The packages whose ``__init__`` Python runs before ``target``: its ancestors, except the ones that
    also contain ``module`` (those are already imported by the time ``module`` runs). Importing
    ``components.monitoring.metrics`` from outside the package runs ``components/monitoring/__init__.py``."""
    parts = target.split(".")
    ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
    return {a for a in ancestors if a in MODULES and not (module == a or module.startswith(a + "."))}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}
"""What each module names in an import (the layering rules judge these)."""
RUNS = {m: targets.union(*(_packages_run_first(m, t) for t in targets)) for m, targets in GRAPH.items()}
"""What importing each module runs: its imports plus their packages' ``__init__`` (the cycles are judged on these)."""


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(source: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        f"{m} imports {t}"
        for m, targets in GRAPH.items() if _in(m, source)
        for t in targets if any(_in(t, f) for f in forbidden) and not any(_in(t, a) for a in allowed)
    )


def test_the_graph_sees_the_project():
    assert {"components.vllm", "components.vllm.k8s", "stacks.program", "slm_deploy.cli", "policies.compose"} <= set(GRAPH)
    assert "components.vllm.k8s" in GRAPH["components.vllm"]
    assert "stacks.loader" in GRAPH["stacks.program"]


def test_components_never_import_the_cli_synth_gate_or_stacks():
    assert _violations("components", ("slm_deploy", "stacks")) == []


def test_policies_never_import_components():
    assert _violations("policies", ("components", "stacks")) == []


def test_the_program_imports_only_downward():
    assert _violations("stacks", ("slm_deploy",)) == []


@pytest.mark.parametrize("engine", ["slm_deploy.synth", "slm_deploy.render", "slm_deploy.gate"])
def test_synth_render_and_gate_know_no_component(engine):
    """They read the render contract (components.base), never a component or the program. The gate's
    apply-validity stage also runs the shared value rules (components.validation: pure predicates, the
    same ones the config types use), so each Kubernetes value rule is written once."""
    assert _violations(engine, ("components", "stacks"), allowed=("components.base", "components.validation")) == []


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in RUNS[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(sorted(scc))

    for v in sorted(RUNS):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles() == []


def test_a_package_init_counts_as_imported():
    """``from a.b.c import x`` runs ``a/b/__init__.py`` first: an edge to ``a.b`` (a cycle through a package's
    ``__init__`` is a cycle; it broke ``import components.ollama.k8s`` alone)."""
    assert "components.monitoring" in RUNS["stacks.schema"]  # from components.monitoring.args import ...
    assert "components.monitoring" not in GRAPH["stacks.schema"]  # not named: no layering edge
    assert "components.monitoring" not in RUNS["components.monitoring.metrics"]  # its own package: already run  # its own package: already run


# Importing a module alone, in a fresh interpreter, is what a user's program (or one test run on its own) does:
# whichever module comes first must not meet a partially initialized one. To keep it affordable, one child
# first imports everything and reports the third-party modules that loaded; the driver imports those (they
# never import ours, so they cannot hide a cycle of ours) and then imports each of our modules in its own
# forked child with none of ours loaded. __main__ modules run something when imported.
_ALONE = r"""
import importlib, json, os, signal, sys
sys.dont_write_bytecode = True
OURS = ("components", "stacks", "slm_deploy", "policies")
names = json.loads(sys.argv[1])


def in_child(job):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        signal.alarm(120)
        try:
            message = job() or ""
        except BaseException as exc:
            message = "!" + f"{type(exc).__name__}: {exc}"[:2000]
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return message if status == 0 else f"!child ended with status {status} (hung or crashed)"


def load_all():
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:
            pass
    return json.dumps(sorted(m for m in sys.modules if m.split(".")[0] not in OURS and m != "__main__"))


third_party = in_child(load_all)
assert not third_party.startswith("!"), third_party
for module in json.loads(third_party):
    try:
        importlib.import_module(module)
    except BaseException:
        pass
assert not [m for m in sys.modules if m.split(".")[0] in OURS]
failed = {}
for name in names:
    message = in_child(lambda: importlib.import_module(name) and None)
    if message:
        failed[name] = message.lstrip("!")
print(json.dumps(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    import json
    import subprocess
    import sys

    names = sorted(m for m in MODULES if not m.endswith("__main__"))
    proc = subprocess.run([sys.executable, "-B", "-c", _ALONE, json.dumps(names)], cwd=ROOT, capture_output=True,
                          text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == {}
