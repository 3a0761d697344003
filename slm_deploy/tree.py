"""The resource tree, printed the way ``pulumi preview`` shows it."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.tree import Tree

from slm_deploy.console import esc

if TYPE_CHECKING:  # the warm preview prints a tree without importing Pulumi (slm_deploy.warm)
    from slm_deploy.synth import SynthResult

__all__ = ["resource_tree", "kind_counts"]


def _label(type_: str, name: str) -> str:
    return f"[green]+[/green] {esc(type_)} [bold]{esc(name)}[/bold]"


def resource_tree(result: "SynthResult") -> Tree:
    """Stack -> components -> children, each line ``+ type name`` as in a preview of creates."""
    root = Tree(f"[green]+[/green] pulumi:pulumi:Stack [bold]{esc(result.project)}-{esc(result.stack)}[/bold]")
    children: dict[str | None, list] = {}
    for rec in result.resources:
        children.setdefault(rec.parent, []).append(rec)

    def attach(branch: Tree, parent: str | None) -> None:
        for rec in children.get(parent, []):
            attach(branch.add(_label(rec.type, rec.name)), rec.key)

    attach(root, None)
    return root


def kind_counts(result: "SynthResult") -> Counter[str]:
    """Resources by kind (the type's last segment), providers excluded."""
    return Counter(r.type.rsplit(":", 1)[-1] for r in result.resources if not r.is_provider)
