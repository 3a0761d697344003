"""The gate: what must pass before a stack may be previewed or deployed."""

from slm_deploy.gate.runner import GateResult, Finding, run_gate

__all__ = ["GateResult", "Finding", "run_gate"]
