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


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


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
        for w in GRAPH[v]:
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

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles() == []
