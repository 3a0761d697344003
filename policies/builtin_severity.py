"""Our severities for checkov's built-in checks (policies/builtin_severity.yaml), no checkov import.

checkov ships no severity offline; the YAML is slm-deploy's own reviewed rating (see its header).
``runs`` marks control-plane flag checks: they judge only containers running one of those binaries.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

__all__ = ["BuiltinRating", "SEVERITY_FILE", "builtin_ratings", "SEVERITIES"]

SEVERITY_FILE = Path(__file__).resolve().parent / "builtin_severity.yaml"
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


@dataclass(frozen=True)
class BuiltinRating:
    check_id: str
    severity: str
    group: str
    why: str
    runs: tuple[str, ...] = ()  # control-plane binaries the check judges; empty = every resource it targets


@lru_cache(maxsize=1)
def builtin_ratings() -> dict[str, BuiltinRating]:
    """check id -> rating. Raises ValueError on a malformed file (a duplicate id, an unknown severity)."""
    # libyaml's parser when PyYAML has it (same SafeConstructor, same values; 20 ms -> 2 ms of every gate run)
    doc = yaml.load(SEVERITY_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    ratings: dict[str, BuiltinRating] = {}
    for group in doc.get("groups") or []:
        severity = group.get("severity")
        if severity not in SEVERITIES:
            raise ValueError(f"{SEVERITY_FILE.name}: group {group.get('group')!r}: severity {severity!r}; "
                             f"allowed: {', '.join(SEVERITIES)}")
        for check_id in group.get("checks") or []:
            if check_id in ratings:
                raise ValueError(f"{SEVERITY_FILE.name}: {check_id} is rated twice "
                                 f"({ratings[check_id].group}, {group['group']})")
            ratings[check_id] = BuiltinRating(check_id, severity, group["group"], " ".join(group["why"].split()),
                                              tuple(group.get("runs") or ()))
    return ratings
