"""checkov's Kubernetes YAML loader on libyaml: the one place the gate patches checkov.

checkov 3.3.30 parses every manifest with ``checkov.kubernetes.parser.k8_yaml.SafeLineLoader``, a
subclass of PyYAML's pure-Python ``SafeLoader`` that adds ``__startline__``/``__endline__`` to every
mapping. On a 100-service stack (1,106 manifests) that loader alone took ~10 s of the scan.
:class:`CSafeLineLoader` does the same construction on libyaml's ``CSafeLoader`` (the C scanner and
parser, the same Python ``SafeConstructor``): ~10x faster, identical output (tests/gate/
test_checkov_yaml.py compares both loaders on every reference stack's manifests and on edge cases).

One difference was found and is routed around: at the end of a stream without a final line break,
libyaml puts the end mark one line further than PyYAML, so such text (never what slm-deploy renders)
goes to checkov's own loader (:func:`line_loader`).

The patch is applied only to the exact checkov version it was tested against (:data:`PINNED_CHECKOV`,
also pinned in pyproject.toml) and only when the attribute still is checkov's own class; anything else
leaves checkov untouched (slower, never different).
"""

from __future__ import annotations

from collections.abc import Hashable
from importlib import metadata
from typing import Any

import yaml

__all__ = ["PINNED_CHECKOV", "CSafeLineLoader", "line_loader", "checkov_loader", "install", "installed"]

PINNED_CHECKOV = "3.3.30"
"""The checkov release whose ``k8_yaml.SafeLineLoader`` this mirrors (keep pyproject.toml's pin equal)."""

_STATE: dict[str, Any] = {"installed": False, "original": None}


class CSafeLineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """checkov's ``SafeLineLoader.construct_mapping``, verbatim, on libyaml's loader."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__startline__"] = node.start_mark.line + 1
        mapping["__endline__"] = node.end_mark.line + 1
        return mapping


def line_loader(stream: Any) -> Any:
    """What checkov's ``yaml.load_all(content, Loader=SafeLineLoader)`` now constructs."""
    if isinstance(stream, str) and stream.endswith("\n"):
        return CSafeLineLoader(stream)
    return checkov_loader()(stream)


def checkov_loader() -> type:
    """checkov's own ``SafeLineLoader`` class, whether or not :func:`install` has replaced it."""
    if _STATE["original"] is None:
        from checkov.kubernetes.parser import k8_yaml

        if isinstance(k8_yaml.SafeLineLoader, type):
            _STATE["original"] = k8_yaml.SafeLineLoader
    return _STATE["original"]


def installed() -> bool:
    return _STATE["installed"]


def install() -> bool:
    """Point checkov's Kubernetes YAML parser at :class:`CSafeLineLoader`; True when it now does."""
    if _STATE["installed"]:
        return True
    if not getattr(yaml, "__with_libyaml__", False) or metadata.version("checkov") != PINNED_CHECKOV:
        return False
    from checkov.kubernetes.parser import k8_yaml

    original = checkov_loader()
    if original is None or original.__module__ != k8_yaml.__name__ or original.__bases__ != (yaml.SafeLoader,):
        return False
    k8_yaml.SafeLineLoader = line_loader  # k8_yaml.loads() looks the name up on every call
    _STATE["installed"] = True
    return True
