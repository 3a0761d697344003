"""Run every compose check over one parsed compose document."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

from policies.compose._base import ComposeCheck, services
from policies.rules._types import Finding, Status


@dataclass
class ComposeReport:
    file_path: str
    passed_checks: list[Finding] = field(default_factory=list)
    failed_checks: list[Finding] = field(default_factory=list)

    def get_summary(self) -> dict[str, int]:
        return {"passed": len(self.passed_checks), "failed": len(self.failed_checks)}


def load_compose_checks() -> list[ComposeCheck]:
    from policies.compose import checks as pkg

    found = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{pkg.__name__}.{info.name}").check)
    return sorted(found, key=lambda c: c.META.id)


def run_compose_checks(compose: dict, file_path: str, checks: list[str] | None = None) -> ComposeReport:
    """`checks`: optional list of check ids to run (default: all)."""
    report = ComposeReport(file_path)
    for check in load_compose_checks():
        if checks and check.META.id not in checks:
            continue
        for name, service in services(compose or {}).items():
            result = check.evaluate(name, service, compose)
            if result.status is Status.NOT_APPLICABLE:
                continue
            finding = Finding(check.META.id, check.META.name, check.META.severity, f"service.{name}", file_path,
                              result.status, result.reasons)
            (report.passed_checks if finding.passed else report.failed_checks).append(finding)
    return report
