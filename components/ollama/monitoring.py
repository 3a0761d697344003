"""Ollama's MonitoringContribution: it has no /metrics, so a blackbox probe of /api/version."""

from __future__ import annotations

from components.observability import MonitoringContribution
from components.probe_monitoring import probe_contribution

__all__ = ["monitoring_for"]


def monitoring_for(source: str, job: str, url: str) -> MonitoringContribution:
    """Ollama has no /metrics: a blackbox probe of /api/version, its alert and dashboard panels."""
    return probe_contribution(source, engine="ollama", job=job, url=url)
