"""Ollama building blocks for :mod:`components.ollama_stack`: settings, Modelfiles, Open WebUI, targets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.observability import MonitoringContribution
from components.probe_monitoring import probe_contribution

__all__ = ["TargetOutputs", "monitoring_for", "ProberPeer"]

ProberPeer = tuple[dict[str, str], dict[str, str] | None]
"""A monitoring prober's pod labels and its namespace labels (None: the stack namespace)."""


@dataclass(frozen=True)
class TargetOutputs:
    base_url: pulumi.Input[str]
    webui_url: pulumi.Input[str] | None
    models: pulumi.Output[list[str]]
    monitoring: MonitoringContribution


def monitoring_for(source: str, job: str, url: str) -> MonitoringContribution:
    """Ollama has no /metrics: a blackbox probe of /api/version, its alert and dashboard panels."""
    return probe_contribution(source, engine="ollama", job=job, url=url)
