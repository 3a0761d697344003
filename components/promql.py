"""PromQL text helpers: which metric names an expression selects, and thresholds as exact numbers (a leaf
module: stdlib only).

It lives outside the ``components.monitoring`` package on purpose: the engines' monitoring contributions
(components/probe_monitoring.py, vllm/ and gateway/monitoring.py, through
:func:`components.observability.queried_metric_names`) need it, and importing anything from
``components.monitoring`` first runs that package's ``__init__`` (MonitoringStack), which imports
probe_monitoring back: a cycle that broke ``import components.ollama.k8s`` on its own.
``components.monitoring.metrics`` re-exports it beside the metric tables it is checked against.
"""

from __future__ import annotations

import re

__all__ = ["metric_names_in", "promql_number"]

_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and strings excluded)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        ident, call = match.group(1), match.group(2)
        if call or ident.lower() in _KEYWORDS:
            continue
        names.add(ident)
    return names


def promql_number(value: float) -> str:
    """A threshold as PromQL text, exactly: the short ``%g`` form when it reads back as the same number, else
    Python's shortest round-trip form (``%g`` alone would turn 0.1234567 into 0.123457)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))
