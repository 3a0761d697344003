"""Run every compose check over one parsed compose document."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

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


def inline_config_files(compose: dict, base_dir: Path) -> dict:
    """A copy of ``compose`` whose top-level ``configs`` read from a ``file`` (relative to the compose file's
    directory, as ``docker compose`` resolves it) carry its text as ``content``, so checks judge what the
    service mounts. A file outside ``base_dir`` or missing stays a reference (nothing to judge)."""
    configs = compose.get("configs") if isinstance(compose, dict) else None
    if not isinstance(configs, dict):
        return compose
    root = base_dir.resolve()
    inlined = {}
    for name, config in configs.items():
        path = (root / config["file"]).resolve() if isinstance(config, dict) and isinstance(config.get("file"), str) else None
        if path is not None and path.is_relative_to(root) and path.is_file():
            config = {**config, "content": path.read_text(errors="replace")}
        inlined[name] = config
    return {**compose, "configs": inlined}


def run_compose_checks(compose: dict, file_path: str, checks: list[str] | None = None,
                       base_dir: Path | None = None) -> ComposeReport:
    """`checks`: optional list of check ids to run (default: all). `base_dir`: the compose file's directory;
    configs read from files there are judged by content (:func:`inline_config_files`)."""
    report = ComposeReport(file_path)
    if base_dir is not None:
        compose = inline_config_files(compose or {}, base_dir)
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
