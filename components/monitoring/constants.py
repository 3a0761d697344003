"""MonitoringStack constants: type token, rule file name and the servers' ports."""

from __future__ import annotations

__all__ = ["TYPE", "RULES_FILE", "PROMETHEUS_PORT", "ALERTMANAGER_PORT", "GRAFANA_PORT", "BLACKBOX_PORT"]

TYPE = "slm:observability:MonitoringStack"
RULES_FILE = "slm.rules.yaml"
PROMETHEUS_PORT, ALERTMANAGER_PORT, GRAFANA_PORT, BLACKBOX_PORT = 9090, 9093, 3000, 9115
