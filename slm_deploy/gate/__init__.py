"""The gate: what must pass before a stack may be previewed or deployed."""

from slm_deploy.gate.result import Finding, GateResult, Waived, WaiverRef
from slm_deploy.gate.runner import run_gate

__all__ = ["GateResult", "Finding", "Waived", "WaiverRef", "run_gate"]
