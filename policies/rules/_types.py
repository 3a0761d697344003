"""Plain result and metadata types shared by every SLM rule (no checkov import)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Status(str, Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    NOT_APPLICABLE = "NOT_APPLICABLE"


@dataclass(frozen=True)
class Result:
    status: Status
    reasons: tuple[str, ...] = ()

    @classmethod
    def judge(cls, applicable: bool, problems: list[str]) -> "Result":
        if problems:
            return cls(Status.FAILED, tuple(problems))
        return cls(Status.PASSED if applicable else Status.NOT_APPLICABLE)


NA = Result(Status.NOT_APPLICABLE)


@dataclass(frozen=True)
class CheckMeta:
    id: str
    name: str  # states the desired outcome
    severity: str  # CRITICAL | HIGH | MEDIUM | LOW
    rationale: str
    reference: str
    framework: str  # kubernetes | compose | manifest-set
    kinds: tuple[str, ...] = field(default=())  # Kubernetes kinds the rule judges


@dataclass(frozen=True)
class Finding:
    """One judged resource of a manifest-set (or compose) rule, shaped like a checkov record."""

    check_id: str
    check_name: str
    severity: str
    resource: str  # "<Kind>.<namespace>.<name>" (k8s) or "service.<name>" (compose)
    file_path: str
    status: Status
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED
