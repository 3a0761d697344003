"""What each Ollama target module returns to :class:`components.ollama.OllamaStack`."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.observability import MonitoringContribution

__all__ = ["TargetOutputs"]


@dataclass(frozen=True)
class TargetOutputs:
    base_url: pulumi.Input[str]
    webui_url: pulumi.Input[str] | None
    models: pulumi.Output[list[str]]
    monitoring: MonitoringContribution
    client_metrics: MonitoringContribution | None = None
    """With named clients on Kubernetes: the proxy's per-client metrics (its exporter's scrape job, panels, alerts)."""
