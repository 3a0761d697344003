"""Gate runner: validates a rendered build directory and returns a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from slm_deploy.gate.schema_validation import validate_manifests

__all__ = ["Finding", "GateResult", "run_gate"]


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str
    file: str
    message: str = ""


@dataclass
class GateResult:
    stack: str
    passed: list[Finding] = field(default_factory=list)
    failed: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def run_gate(build_dir: Path, stack: str) -> GateResult:
    """Gate one rendered stack."""
    result = GateResult(stack)
    for file, version, error in validate_manifests(build_dir / "manifests"):
        result.failed.append(Finding("K8S_SCHEMA", f"valid for Kubernetes {version} (strict)", file, file, error))
    return result
