"""The gate's verdict types: plain dataclasses (no checkov import), JSON round-trippable for the cache."""

from __future__ import annotations

import operator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["Finding", "Waived", "WaiverRef", "GateResult", "GATE_CHECKS", "project_root", "finding_values",
           "finding_from_values", "finding_with", "findings_values", "findings_from_values"]


from slm_deploy.gate.apply_checks import APPLY_CHECKS
from slm_deploy.paths import project_root  # re-exported for the gate modules

# Checks the gate itself enforces (besides checkov's, ours and the schemas).
GATE_CHECKS: dict[str, tuple[str, str]] = {
    "K8S_SCHEMA": (
        "Ensure every manifest is valid against the strict Kubernetes schemas (oldest and newest supported)",
        "A typo'd or unknown field is silently dropped by the API server; strict schemas catch it before apply.",
    ),
    "SLM_GATE_UNSCANNED": (
        "Ensure every rendered Kubernetes object, Dockerfile and compose service got results from the checks for its kind",
        "checkov silently skips files it takes for Helm templates (or cannot read); an object nobody judged must not pass.",
    ),
    "PROMTOOL_RULES": (
        "Ensure every rendered Prometheus rule file passes promtool check rules",
        "A rule file Prometheus cannot load switches alerting off; promtool must be installed for the gate to judge it.",
    ),
    "SLM_GATE_SELF_WAIVER": (
        "Ensure rendered output carries no inline checkov suppression that policies/waivers.yaml does not back",
        "A generated file must not be able to waive itself: every exception goes through the reviewed waiver file.",
    ),
    "SLM_GATE_OPT_OUT": (
        "Ensure every stack-file opt-out is approved: its own approver and expiry, or a waiver in policies/waivers.yaml",
        "An opt-out that only its author signed is self-approved; a reviewer and an expiry make it a reviewed exception.",
    ),
    "SLM_GATE_EXPIRED_WAIVER": (
        "Ensure no waiver that applies to the stack has expired",
        "Exceptions are temporary by design: an expired waiver must be renewed (re-reviewed) or the finding fixed.",
    ),
    "SLM_GATE_WAIVER_FILE": (
        "Ensure policies/waivers.yaml is well-formed (check, resource, stacks, reason, approver, expires)",
        "A waiver nobody can attribute, explain or expire is not a reviewed exception.",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One check on one resource. ``resource`` is ``Kind.namespace.name`` (Kubernetes),
    ``service.<name>`` (compose) or ``Dockerfile.<path>``; ``file`` is relative to the build dir."""

    check_id: str
    check_name: str
    resource: str
    file: str
    message: str = ""
    severity: str = ""  # ours carry one; checkov built-ins carry none offline
    source: str = "checkov"  # checkov | schema | compose | manifest-set | apply | gate
    kind: str = ""
    namespace: str = ""
    name: str = ""
    line: int = 0
    guideline: str = ""


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


def _finding_dict(finding: Finding) -> dict[str, Any]:
    """``asdict(finding)`` for this flat record of scalars, without asdict's recursive deep copy (tens of
    thousands of findings per 100-service stack)."""
    return {name: getattr(finding, name) for name in _FINDING_FIELDS}


_finding_getter = operator.attrgetter(*_FINDING_FIELDS)


def finding_values(finding: Finding) -> tuple[Any, ...]:
    """A finding as its field values in declaration order (the caches' compact JSON form: a JSON list)."""
    return _finding_getter(finding)


def finding_with(finding: Finding, **changes: Any) -> Finding:
    """``dataclasses.replace(finding, **changes)`` without running ``__init__`` (unknown names raise TypeError)."""
    unknown = set(changes) - set(_FINDING_FIELDS)
    if unknown:
        raise TypeError(f"Finding has no field(s) {sorted(unknown)}")
    copy = object.__new__(Finding)
    copy.__dict__.update(zip(_FINDING_FIELDS, _finding_getter(finding)))
    copy.__dict__.update(changes)
    return copy


def finding_from_values(values: list[Any]) -> Finding:
    """The inverse of :func:`finding_values`. Builds the frozen record without its per-field ``__setattr__``
    (tens of thousands per run); the field count is checked, so a record of another shape raises ValueError."""
    return findings_from_values([values])[0]


def findings_values(findings: list[Finding]) -> list[tuple[Any, ...]]:
    """``[finding_values(f) for f in findings]`` in one ``map`` (tens of thousands per cache write)."""
    return list(map(_finding_getter, findings))


def findings_from_values(rows: list[list[Any]]) -> list[Finding]:
    """``[finding_from_values(v) for v in rows]`` in one loop without a call per finding (tens of thousands per
    cache read); the same field-count check."""
    count, names, new = len(_FINDING_FIELDS), _FINDING_FIELDS, object.__new__
    found: list[Finding] = []
    append = found.append
    for values in rows:
        if len(values) != count:
            raise ValueError(f"a cached finding has {len(values)} fields, not {count}")
        finding = new(Finding)
        finding.__dict__.update(zip(names, values))
        append(finding)
    return found


@dataclass(frozen=True)
class WaiverRef:
    """What backed a waived finding: a reviewed waiver or a component opt-out."""

    source: str  # "waiver" | "component opt-out (stack config)"
    ident: str  # waiver id, or "<component>:<setting>"
    reason: str
    approver: str = ""
    expires: str = ""


@dataclass(frozen=True)
class Waived:
    finding: Finding
    by: WaiverRef
    inline: bool = False  # an inline suppression in the rendered output, backed by this waiver


@dataclass
class GateResult:
    stack: str
    passed: list[Finding] = field(default_factory=list)
    failed: list[Finding] = field(default_factory=list)
    waived: list[Waived] = field(default_factory=list)
    stale_waivers: list[dict[str, Any]] = field(default_factory=list)
    expired_waivers: list[dict[str, Any]] = field(default_factory=list)
    self_waivers: list[Finding] = field(default_factory=list)
    # Results that judge nothing here (control-plane flag checks on a workload): neither passed nor failed.
    not_applicable: list[Finding] = field(default_factory=list)
    opt_outs: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, dict[str, str]] = field(default_factory=dict)  # every check that ran: id -> name, severity, ...
    scanned: list[str] = field(default_factory=list)
    waiver_file: dict[str, Any] = field(default_factory=dict)  # path, sha256, override (SLM_DEPLOY_WAIVERS)
    cache_key: str = ""
    cached: bool = False
    reports: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("cached", "reports")}
        data["passed"] = [_finding_dict(x) for x in self.passed]
        data["failed"] = [_finding_dict(x) for x in self.failed]
        data["self_waivers"] = [_finding_dict(x) for x in self.self_waivers]
        data["not_applicable"] = [_finding_dict(x) for x in self.not_applicable]
        data["waived"] = [asdict(w) for w in self.waived]
        return data

    def to_cache(self) -> dict[str, Any]:
        """:meth:`to_json` with every finding as its list of values (:func:`finding_values`): the verdict cache's
        form, about half the JSON to write and read for a large stack."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("cached", "reports")}
        for key in ("passed", "failed", "self_waivers", "not_applicable"):
            data[key] = findings_values(getattr(self, key))
        data["waived"] = [[finding_values(w.finding), asdict(w.by), w.inline] for w in self.waived]
        data["finding_fields"] = list(_FINDING_FIELDS)
        return data

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> "GateResult":
        """The inverse of :meth:`to_cache`; raises (KeyError, ValueError, TypeError) on a record of another shape."""
        data = dict(data)
        if data.pop("finding_fields") != list(_FINDING_FIELDS):
            raise ValueError("cached findings of another shape")
        for key in ("passed", "failed", "self_waivers", "not_applicable"):
            data[key] = findings_from_values(data[key])
        data["waived"] = [Waived(finding_from_values(f), WaiverRef(**by), inline) for f, by, inline in data["waived"]]
        return cls(**data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "GateResult":
        data = dict(data)
        for key in ("passed", "failed", "self_waivers", "not_applicable"):
            data[key] = [Finding(**x) for x in data.get(key, [])]
        data["waived"] = [
            Waived(Finding(**w["finding"]), WaiverRef(**w["by"]), w.get("inline", False)) for w in data.get("waived", [])
        ]
        return cls(**data)

GATE_CHECKS.update(APPLY_CHECKS)  # the apply-validity stage's checks (slm_deploy/gate/apply_validity.py)
