"""Cross-resource SLM rules over the whole list of rendered manifests.

The gate runner calls `check_manifest_set(objects)` once per stack (objects: every rendered
Kubernetes object as a plain dict); the CrossGuard pack calls it from a StackValidationPolicy.
"""
from __future__ import annotations

from policies.rules import (
    exposure_resolved, gateway_ingress, network_policy_coverage, serving_egress, serving_ingress_open,
)
from policies.rules._k8s import resource_id, strip_meta
from policies.rules._types import CheckMeta, Finding, Status

RULES = (network_policy_coverage, exposure_resolved, serving_egress, gateway_ingress, serving_ingress_open)
METAS: tuple[CheckMeta, ...] = tuple(rule.META for rule in RULES)


def check_manifest_set(objects: list[dict], file_paths: dict[str, str] | None = None, *,
                       copies: bool = False) -> list[Finding]:
    """Judge the set; return PASSED and FAILED findings (not-applicable resources are omitted).

    `file_paths` optionally maps resource ids ("Kind.namespace.name") to the file they were rendered to.
    `copies`: the objects already are what `strip_meta` makes of them (private copies, no `__` keys at any depth;
    the gate makes them from JSON, slm_deploy/gate/incremental.py `Plan.stripped_copies`), so they are not copied again.
    """
    objects = [o for o in objects if isinstance(o, dict)] if copies else [
        strip_meta(o) for o in objects if isinstance(o, dict)]
    findings = []
    for rule in RULES:
        for obj, result in rule.evaluate(objects):
            if result.status is Status.NOT_APPLICABLE:
                continue
            rid = resource_id(obj)
            findings.append(Finding(rule.META.id, rule.META.name, rule.META.severity, rid,
                                    (file_paths or {}).get(rid, ""), result.status, result.reasons))
    return findings
