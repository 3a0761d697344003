"""Grafana dashboards as data: one dashboard per engine, one row per contribution.

Each dashboard has a ``datasource`` variable (so it works against the cluster's
own Grafana in operator mode) and a query variable for the model or instance,
scoped to the stack namespace (``{namespace}`` in the query) so that a shared
Prometheus holding several stacks lists only this stack's models and pods. The GPU
variable lists nodes, which are cluster-wide, so it is not namespace-scoped.
Panels come from the contributions; nothing here knows a component.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.observability import MonitoringContribution, Panel

__all__ = ["DashboardKind", "DASHBOARD_KINDS", "build_dashboards", "dashboard_json", "dashboard_queries"]


@dataclass(frozen=True)
class DashboardKind:
    slug: str
    title: str
    variable: str
    variable_label: str
    variable_query: str


DASHBOARD_KINDS: dict[str, DashboardKind] = {
    "vllm": DashboardKind("vllm", "vLLM serving", "model_name", "Model", 'label_values(vllm:num_requests_running{{namespace="{namespace}"}}, model_name)'),
    "gpu": DashboardKind("gpu", "GPUs (DCGM)", "instance", "Node", "label_values(DCGM_FI_DEV_GPU_TEMP, Hostname)"),
    "ollama": DashboardKind("ollama", "Ollama (probes)", "instance", "Instance", 'label_values(probe_success{{engine="ollama", namespace="{namespace}"}}, instance)'),
    "onnx": DashboardKind("edge", "Edge / ONNX nodes", "instance", "Instance", 'label_values(probe_success{{engine="onnx", namespace="{namespace}"}}, instance)'),
    "gateway": DashboardKind("gateway", "Model gateway (clients)", "client", "Client", 'label_values(slm_gateway_requests_total{{namespace="{namespace}"}}, client)'),
    "kubernetes": DashboardKind("pods", "Pods (restarts, OOM)", "pod", "Pod", 'label_values(kube_pod_container_status_restarts_total{{namespace="{namespace}"}}, pod)'),
}
"""Which dashboard an engine's panels go to, and its model/instance variable (``{namespace}``: the stack namespace)."""

_DS = {"type": "prometheus", "uid": "${datasource}"}
_WIDTH, _HEIGHT = 12, 8


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "datasource": _DS,
        "gridPos": {"h": _HEIGHT, "w": _WIDTH, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": _DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }


def _variables(kind: DashboardKind, namespace: str) -> list[dict[str, Any]]:
    query = kind.variable_query.format(namespace=namespace)
    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
        },
        {
            "name": kind.variable,
            "label": kind.variable_label,
            "type": "query",
            "datasource": _DS,
            "query": {"query": query, "refId": "variable"},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "allValue": ".*",
            "multi": True,
            "current": {},
            "sort": 1,
            "hide": 0,
        },
    ]


def _dashboard(uid: str, kind: DashboardKind, contributions: list[MonitoringContribution], tags: list[str], namespace: str) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    panel_id, y = 1, 0
    for c in contributions:
        panels.append({"id": panel_id, "type": "row", "title": c.source, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        panel_id, y = panel_id + 1, y + 1
        for i, p in enumerate(c.panels):
            panels.append(_panel(p, panel_id, (i % 2) * _WIDTH, y + (i // 2) * _HEIGHT))
            panel_id += 1
        y += ((len(c.panels) + 1) // 2) * _HEIGHT
    return {
        "uid": uid,
        "title": f"SLM / {kind.title}",
        "tags": tags,
        "timezone": "browser",
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": _variables(kind, namespace)},
        "panels": panels,
    }


def build_dashboards(
    contributions: Sequence[MonitoringContribution], *, uid_prefix: str, tags: list[str], namespace: str
) -> dict[str, dict[str, Any]]:
    """``{file name: dashboard}``, one dashboard per engine present, rows in contribution order; variables scoped to ``namespace``."""
    by_engine: dict[str, list[MonitoringContribution]] = {}
    for c in contributions:
        if c.panels:
            by_engine.setdefault(c.engine, []).append(c)
    out: dict[str, dict[str, Any]] = {}
    for engine, group in by_engine.items():
        kind = DASHBOARD_KINDS[engine]
        uid = f"{uid_prefix}-{kind.slug}"[:40]
        out[f"{kind.slug}.json"] = _dashboard(uid, kind, group, tags, namespace)
    return out


def dashboard_json(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL string a dashboard runs (panel targets and variable queries)."""
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]["query"]
            inner = q.removeprefix("label_values(").rsplit(",", 1)[0] if q.startswith("label_values(") else q
            queries.append(inner)
    return queries
