"""Reviewed waivers (policies/waivers.yaml) and component opt-outs, and how they match findings.

A waiver names one check id, a resource selector (kind/name, optional namespace; shell-style
globs allowed), the stacks it applies to, a reason, an approver and an ISO expiry date::

    waivers:
      - id: W-001
        check: CKV_K8S_43
        resource: {kind: Deployment, name: "vllm-*", namespace: slm-prod}
        stacks: [prod]
        reason: ...
        approver: jane.doe@example.com
        expires: 2026-06-30

``resource`` may also be written ``"Kind/name"`` or ``"Kind/namespace/name"``; compose services are
``service/<name>``, generated Dockerfiles ``Dockerfile/<path in the build dir>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from slm_deploy.gate.result import Finding, Waived, WaiverRef

__all__ = [
    "ResourceSelector", "Waiver", "WaiverFile", "WaiverFileError", "load_waivers", "InlineSkip", "apply_exceptions",
    "OPT_OUT_SOURCE", "compose_service_names",
]

OPT_OUT_SOURCE = "component opt-out (stack config)"
_CHECK_ID = re.compile(r"^(CKV2?_[A-Z0-9]+_\d+|K8S_SCHEMA)$")


class ResourceSelector(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1, description="Kubernetes kind, `service` (compose) or `Dockerfile`. Glob allowed.")
    name: str = Field(min_length=1, description="Resource name (Dockerfile: path in the build dir). Glob allowed.")
    namespace: str | None = Field(default=None, description="Kubernetes namespace. Default None: any namespace.")

    def matches(self, finding: Finding) -> bool:
        if not fnmatchcase(finding.kind.lower(), self.kind.lower()):
            return False
        if not fnmatchcase(finding.name, self.name):
            return False
        return self.namespace is None or fnmatchcase(finding.namespace, self.namespace)

    def __str__(self) -> str:
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, description="Stable id for reports. Default None: check@resource.")
    check: str = Field(description="One check id, exactly (no globs: a waiver is for one known finding).")
    resource: ResourceSelector
    stacks: list[str] = Field(min_length=1, description="Stacks it applies to; `*` for every stack.")
    reason: str = Field(min_length=15, description="Why the finding is acceptable (at least 15 characters).")
    approver: str = Field(min_length=3, description="Who reviewed and approved it.")
    expires: date = Field(description="ISO date; from that day on the waiver fails the gate.")

    @field_validator("check")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _CHECK_ID.match(value):
            raise ValueError(f"check {value!r} is not a check id (e.g. CKV_K8S_43, CKV2_K8S_6, CKV_SLM_001)")
        return value

    @field_validator("resource", mode="before")
    @classmethod
    def _resource_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = value.split("/")
            if len(parts) == 2:
                return {"kind": parts[0], "name": parts[1]}
            if len(parts) == 3 and parts[0] != "Dockerfile":
                return {"kind": parts[0], "namespace": parts[1], "name": parts[2]}
            if parts[0] == "Dockerfile" and len(parts) > 1:
                return {"kind": "Dockerfile", "name": "/".join(parts[1:])}
            raise ValueError(f"resource {value!r}: write Kind/name, Kind/namespace/name or {{kind:, name:, namespace:}}")
        return value

    @model_validator(mode="after")
    def _default_id(self) -> "Waiver":
        if self.id is None:
            object.__setattr__(self, "id", f"{self.check}@{self.resource}")
        return self

    def applies_to(self, stack: str) -> bool:
        return any(fnmatchcase(stack, s) for s in self.stacks)

    def expired(self, today: date) -> bool:
        return today >= self.expires

    def matches(self, finding: Finding, stack: str) -> bool:
        return self.check == finding.check_id and self.applies_to(stack) and self.resource.matches(finding)

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id, "check": self.check, "resource": str(self.resource), "stacks": list(self.stacks),
            "reason": self.reason, "approver": self.approver, "expires": self.expires.isoformat(),
        }

    def ref(self) -> WaiverRef:
        return WaiverRef("waiver", self.id or "", self.reason, self.approver, self.expires.isoformat())


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waivers: list[Waiver] = Field(default_factory=list)


class WaiverFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_waivers(path: Path, display: str = "policies/waivers.yaml") -> list[Waiver]:
    """Parse and validate the waiver file; a missing file means no waivers."""
    if not path.exists():
        return []
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise WaiverFileError([f"{display}: not valid YAML: {exc}"]) from None
    try:
        parsed = WaiverFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
            problems.append(f"{display}: {loc} = {err.get('input')!r}: {err['msg']}")
        raise WaiverFileError(problems) from None
    ids = [w.id for w in parsed.waivers]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise WaiverFileError([f"{display}: duplicate waiver id(s) {dupes}: each waiver needs its own id"])
    return parsed.waivers


@dataclass(frozen=True)
class InlineSkip:
    """An inline suppression found in the rendered output (annotation or comment)."""

    finding: Finding  # check id + resource it claims to skip; message carries the inline comment


def _opt_out_matches(opt: dict[str, Any], finding: Finding, compose_names: dict[str, set[str]] | None = None) -> bool:
    """Does a component opt-out record cover this finding?

    Kubernetes (and Dockerfile) findings: the record's ``resource`` (the component instance name, or a
    glob) is the finding's name, ``Kind/name`` or resource id. Compose findings (``service.<name>``): the
    service belongs to the instance (its name is ``resource`` or starts with ``resource-``, the naming
    every docker target uses) and, when the opt-out names a ``container``, that container is the service:
    its service name, ``container_name`` or one of its network aliases (how the same container is known
    on the Kubernetes target, e.g. Open WebUI's ``open-webui``).
    """
    if finding.check_id not in (opt.get("checks") or []):
        return False
    target = str(opt.get("resource") or "")
    if finding.kind == "service":
        service = finding.name
        if not target or not (service == target or service.startswith(f"{target}-") or fnmatchcase(service, target)):
            return False
        container = opt.get("container")
        if not container:
            return True
        return container in ({service} | (compose_names or {}).get(service, set()))
    return target in (finding.name, finding.resource, f"{finding.kind}/{finding.name}") or (
        bool(target) and fnmatchcase(finding.name, target)
    )


def compose_service_names(compose: dict[str, Any] | None) -> dict[str, set[str]]:
    """service -> every name the container answers to: service name, container_name, network aliases."""
    out: dict[str, set[str]] = {}
    services = (compose or {}).get("services") if isinstance(compose, dict) else None
    for name, svc in (services or {}).items() if isinstance(services, dict) else ():
        svc = svc if isinstance(svc, dict) else {}
        names = {str(name)}
        if svc.get("container_name"):
            names.add(str(svc["container_name"]))
        networks = svc.get("networks")
        for net in (networks.values() if isinstance(networks, dict) else ()):
            if isinstance(net, dict):
                names |= {str(a) for a in net.get("aliases") or []}
        out[str(name)] = names
    return out


def _opt_out_ref(opt: dict[str, Any]) -> WaiverRef:
    ident = f"{opt.get('component', '?')}:{opt.get('setting', '?')}"
    if opt.get("container"):
        ident += f" (container {opt['container']})"
    return WaiverRef(OPT_OUT_SOURCE, ident, str(opt.get("reason", "")))


def apply_exceptions(
    failed: list[Finding],
    inline: list[InlineSkip],
    waivers: list[Waiver],
    opt_outs: list[dict[str, Any]],
    stack: str,
    today: date,
    compose_names: dict[str, set[str]] | None = None,
) -> tuple[list[Finding], list[Waived], list[Finding], list[dict], list[dict], list[dict]]:
    """Returns (still failed, waived, self-waivers, stale waivers, expired waivers, opt-out rows).

    Expired waivers back nothing (their findings stay failed) and each one fails the gate itself.
    Inline suppressions count only when a live waiver backs them; otherwise they fail the gate.
    ``compose_names`` (:func:`compose_service_names`) lets a compose opt-out match its container by alias.
    """
    live = [w for w in waivers if w.applies_to(stack) and not w.expired(today)]
    expired = [w for w in waivers if w.applies_to(stack) and w.expired(today)]
    used: set[str] = set()
    opt_rows = [dict(o, matched=0) for o in opt_outs]

    still: list[Finding] = []
    waived: list[Waived] = []
    for f in failed:
        waiver = next((w for w in live if w.matches(f, stack)), None)
        if waiver is not None:
            used.add(waiver.id or "")
            waived.append(Waived(f, waiver.ref()))
            continue
        row = next((o for o in opt_rows if _opt_out_matches(o, f, compose_names)), None)
        if row is not None:
            row["matched"] += 1
            waived.append(Waived(f, _opt_out_ref(row)))
            continue
        still.append(f)

    self_waivers: list[Finding] = []
    for skip in inline:
        f = skip.finding
        waiver = next((w for w in live if w.matches(f, stack)), None)
        if waiver is not None:
            used.add(waiver.id or "")
            waived.append(Waived(f, waiver.ref(), inline=True))
        else:
            self_waivers.append(f)

    stale = [w.record() for w in live if w.id not in used]
    return still, waived, self_waivers, stale, [w.record() for w in expired], opt_rows
