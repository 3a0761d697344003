"""Ollama building blocks for :mod:`components.ollama_stack`: settings, Modelfiles, Open WebUI, targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.observability import MonitoringContribution, ProbeTarget

__all__ = ["TargetOutputs", "monitoring_for"]


@dataclass(frozen=True)
class TargetOutputs:
    base_url: pulumi.Input[str]
    webui_url: pulumi.Input[str] | None
    models: pulumi.Output[list[str]]
    monitoring: MonitoringContribution


def monitoring_for(source: str, job: str, url: str) -> MonitoringContribution:
    """Ollama has no /metrics: a blackbox probe of /api/version (probe_monitoring if present)."""
    try:
        from components.probe_monitoring import probe_contribution  # type: ignore[import-not-found]
    except ImportError:
        probe_contribution = None
    if probe_contribution is not None:
        result: Any = probe_contribution(source, engine="ollama", job=job, url=url)
        return result
    return MonitoringContribution(source=source, engine="ollama",
                                  probe_targets=(ProbeTarget(job=job, url=url, labels={"engine": "ollama"}),))
