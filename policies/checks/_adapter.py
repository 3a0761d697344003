"""Thin checkov adapter: one pure rule from policies.rules -> one BaseK8Check."""
from __future__ import annotations

from typing import Any, Callable

from checkov.common.bridgecrew.severities import Severities
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.kubernetes.checks.resource.base_spec_check import BaseK8Check

from policies.rules._k8s import strip_meta
from policies.rules._types import CheckMeta, Result, Status

_TO_CHECKOV = {Status.PASSED: CheckResult.PASSED, Status.FAILED: CheckResult.FAILED,
               Status.NOT_APPLICABLE: CheckResult.UNKNOWN}


class SlmK8sCheck(BaseK8Check):
    """Subclasses set META and RULE; checkov sees whole workloads (the pod template is inside)."""

    META: CheckMeta
    RULE: Callable[[dict], Result]

    def __init__(self) -> None:
        super().__init__(name=self.META.name, id=self.META.id, categories=[CheckCategories.KUBERNETES],
                         supported_entities=self.META.kinds, guideline=self.META.reference)
        self.severity = Severities[self.META.severity]
        self.details: list[str] = []

    def get_resource_id(self, conf: dict[str, Any]) -> str:
        meta = conf.get("metadata") or {}
        return f"{conf.get('kind')}.{meta.get('namespace', 'default')}.{meta.get('name')}"

    def scan_spec_conf(self, conf: dict[str, Any]) -> CheckResult:
        result = type(self).RULE(strip_meta(conf))
        self.details = list(result.reasons)
        return _TO_CHECKOV[result.status]
