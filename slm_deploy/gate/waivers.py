"""Reviewed waivers (policies/waivers.yaml) and component opt-outs, and how they match findings.

A waiver names one check id, a resource selector (exact kind; name, optional namespace, with
shell-style globs inside a name but never a bare wildcard), the stacks it applies to (exact names),
a reason in words, an approver and an ISO expiry date no further away than the file's horizon::

    maxExpiryDays: 180            # optional header; default 180
    waivers:
      - id: W-001
        check: CKV_K8S_43
        resource: {kind: Deployment, name: "vllm-*", namespace: slm-prod}
        stacks: [prod]
        reason: ...
        approver: jane.doe@example.com
        expires: 2026-06-30

``resource`` may also be written ``"Kind/name"`` or ``"Kind/namespace/name"``; compose services are
``service/<name>``, generated Dockerfiles ``Dockerfile/<path in the build dir>``, stack-file opt-outs
``OptOut/<resource>:<setting>`` (check ``SLM_GATE_OPT_OUT``).

Component opt-outs (stack file ``optOuts``) waive only when approved: the opt-out carries ``approver``
and ``expires`` itself, or a waiver for ``SLM_GATE_OPT_OUT`` on ``OptOut/<resource>:<setting>`` backs it.
An unapproved opt-out backs nothing and fails the gate (``SLM_GATE_OPT_OUT``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from slm_deploy.gate.result import GATE_CHECKS, Finding, Waived, WaiverRef

__all__ = [
    "ResourceSelector", "Waiver", "WaiverFile", "WaiverFileError", "load_waivers", "InlineSkip", "apply_exceptions",
    "OPT_OUT_SOURCE", "OPT_OUT_CHECK", "compose_service_names", "reason_in_words", "DEFAULT_MAX_EXPIRY_DAYS",
    "opt_out_name", "unknown_checks",
]

OPT_OUT_SOURCE = "component opt-out (stack config)"
OPT_OUT_CHECK = "SLM_GATE_OPT_OUT"
DEFAULT_MAX_EXPIRY_DAYS = 180
_CHECK_ID = re.compile(r"^(CKV2?_[A-Z0-9]+_\d+|K8S_SCHEMA|SLM_GATE_OPT_OUT)$")
_GLOB = re.compile(r"[*?\[\]]")
_STACK = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_WORD = re.compile(r"[A-Za-z]{3,}")


def reason_in_words(reason: str, what: str = "reason") -> str:
    """A reason a reviewer can read: at least 15 characters and four different words of 3+ letters."""
    words = {w.lower() for w in _WORD.findall(reason)}
    if len(reason.strip()) < 15 or len(words) < 4:
        raise ValueError(f"{what} must say why in words (at least 15 characters and 4 different words), "
                         f"not padding; got {len(words)} word(s)")
    return reason


def opt_out_name(opt: dict[str, Any]) -> str:
    """How a waiver names a stack-file opt-out: ``<resource>:<setting>`` (``:<container>`` when it has one)."""
    name = f"{opt.get('resource', '?')}:{opt.get('setting', '?')}"
    return f"{name}:{opt['container']}" if opt.get("container") else name


class ResourceSelector(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1, description="Kubernetes kind, `service` (compose), `Dockerfile` or `OptOut`, exactly (no glob).")
    name: str = Field(min_length=1, description="Resource name (Dockerfile: path in the build dir). A glob may narrow a name (`vllm-*`) but not replace it (`*` is refused).")
    namespace: str | None = Field(default=None, description="Kubernetes namespace. Default None: any namespace. No bare wildcard.")

    @field_validator("kind")
    @classmethod
    def _exact_kind(cls, value: str) -> str:
        if _GLOB.search(value):
            raise ValueError(f"kind {value!r}: name one kind exactly; a wildcard kind would waive every kind of object")
        return value

    @field_validator("name", "namespace")
    @classmethod
    def _no_bare_wildcard(cls, value: str | None) -> str | None:
        if value is not None and not _GLOB.sub("", value).strip("-._/"):
            raise ValueError(f"{value!r} is a bare wildcard: name the resource (a glob may only narrow a name, "
                             "e.g. 'vllm-*')")
        return value

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
    stacks: list[str] = Field(min_length=1, description="Stacks it applies to, each by its exact name (no `*`).")
    reason: str = Field(min_length=15, description="Why the finding is acceptable, in words (at least 15 characters, 4 different words).")
    approver: str = Field(min_length=3, description="Who reviewed and approved it.")
    expires: date = Field(description="ISO date; from that day on the waiver fails the gate.")

    @field_validator("check")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _CHECK_ID.match(value):
            raise ValueError(f"check {value!r} is not a check id (e.g. CKV_K8S_43, CKV2_K8S_6, CKV_SLM_001)")
        return value

    @field_validator("stacks")
    @classmethod
    def _exact_stacks(cls, value: list[str]) -> list[str]:
        for stack in value:
            if not _STACK.match(stack):
                raise ValueError(f"stack {stack!r}: name each stack exactly (a DNS label); wildcards are refused, "
                                 "a waiver is reviewed for the stacks it names")
        return value

    @field_validator("reason")
    @classmethod
    def _words(cls, value: str) -> str:
        return reason_in_words(value)

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
        return stack in self.stacks

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
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    max_expiry_days: int = Field(
        default=DEFAULT_MAX_EXPIRY_DAYS, ge=1, le=730, alias="maxExpiryDays",
        description="How far ahead any waiver (or approved opt-out) may expire, in days. Default 180.")
    waivers: list[Waiver] = Field(default_factory=list)


class WaiverFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_waivers(path: Path, display: str = "policies/waivers.yaml", today: date | None = None) -> list[Waiver]:
    """Parse and validate the waiver file; a missing file means no waivers."""
    return load_waiver_file(path, display, today).waivers


def load_waiver_file(path: Path, display: str = "policies/waivers.yaml", today: date | None = None) -> WaiverFile:
    """The whole file (header + waivers). An expiry beyond the horizon (``maxExpiryDays`` from ``today``)
    is a problem like any malformed entry."""
    if not path.exists():
        return WaiverFile()
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
    limit = (today or date.today()) + timedelta(days=parsed.max_expiry_days)
    far = [f"{display}: waivers[{i}].expires = {w.expires.isoformat()!r}: beyond the {parsed.max_expiry_days}-day "
           f"horizon (maxExpiryDays; latest allowed {limit.isoformat()}): review it again before then"
           for i, w in enumerate(parsed.waivers) if w.expires > limit]
    if far:
        raise WaiverFileError(far)
    return parsed


def unknown_checks(waivers: list[Waiver], known: set[str]) -> list[Waiver]:
    """Waivers naming a check id the gate does not enforce (a typo, or a check since removed)."""
    return [w for w in waivers if w.check not in known]


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


def _opt_out_ident(opt: dict[str, Any]) -> str:
    ident = f"{opt.get('component', '?')}:{opt.get('setting', '?')}"
    if opt.get("container"):
        ident += f" (container {opt['container']})"
    return ident


def _opt_out_finding(opt: dict[str, Any], message: str, check: str = OPT_OUT_CHECK) -> Finding:
    name = opt_out_name(opt)
    return Finding(check, GATE_CHECKS[check][0], f"OptOut.{name}", "opt-outs.json", message, severity="HIGH",
                   source="gate", kind="OptOut", name=name)


def _opt_out_backing(opt: dict[str, Any], live: list["Waiver"], stack: str, today: date, horizon: int,
                     waivers_file: str) -> tuple[WaiverRef | None, str | None, Finding | None]:
    """(what approves this opt-out, the waiver id used, the gate failure when nothing valid does)."""
    ident, reason = _opt_out_ident(opt), str(opt.get("reason", ""))
    approver, expires = opt.get("approver"), opt.get("expires")
    if approver and expires:
        until = date.fromisoformat(str(expires))
        if today >= until:
            return None, None, _opt_out_finding(opt, f"opt-out {ident} expired on {until.isoformat()} (approved by "
                                                     f"{approver}): renew it after review or remove it",
                                                "SLM_GATE_EXPIRED_WAIVER")
        if until > today + timedelta(days=horizon):
            return None, None, _opt_out_finding(opt, f"opt-out {ident} expires {until.isoformat()}, beyond the "
                                                     f"{horizon}-day horizon set in {waivers_file} (maxExpiryDays)")
        return WaiverRef(OPT_OUT_SOURCE, ident, reason, str(approver), until.isoformat()), None, None
    probe = _opt_out_finding(opt, "")
    waiver = next((w for w in live if w.matches(probe, stack)), None)
    if waiver is not None:
        return (WaiverRef(OPT_OUT_SOURCE, f"{ident} (waiver {waiver.id})", reason, waiver.approver,
                          waiver.expires.isoformat()), waiver.id, None)
    return None, None, _opt_out_finding(
        opt, f"opt-out {ident} is not approved: give it approver and expires in the stack file, or back it with a "
             f"waiver in {waivers_file} (check {OPT_OUT_CHECK}, resource OptOut/{opt_out_name(opt)})")


def apply_exceptions(
    failed: list[Finding],
    inline: list[InlineSkip],
    waivers: list[Waiver],
    opt_outs: list[dict[str, Any]],
    stack: str,
    today: date,
    compose_names: dict[str, set[str]] | None = None,
    *,
    horizon: int = DEFAULT_MAX_EXPIRY_DAYS,
    waivers_file: str = "policies/waivers.yaml",
) -> tuple[list[Finding], list[Waived], list[Finding], list[dict], list[dict], list[dict], list[Finding]]:
    """Returns (still failed, waived, self-waivers, stale waivers, expired waivers, opt-out rows,
    opt-out problems).

    Expired waivers back nothing (their findings stay failed) and each one fails the gate itself.
    Inline suppressions count only when a live waiver backs them; otherwise they fail the gate.
    Opt-outs waive only when approved (their own approver + expiry, or a backing waiver); an
    unapproved, expired or too-long opt-out backs nothing and is an opt-out problem.
    ``compose_names`` (:func:`compose_service_names`) lets a compose opt-out match its container by alias.
    """
    live = [w for w in waivers if w.applies_to(stack) and not w.expired(today)]
    expired = [w for w in waivers if w.applies_to(stack) and w.expired(today)]
    used: set[str] = set()
    opt_rows, refs, problems = [], [], []
    for o in opt_outs:
        ref, waiver_id, problem = _opt_out_backing(o, live, stack, today, horizon, waivers_file)
        if waiver_id:
            used.add(waiver_id)
        if problem is not None:
            problems.append(problem)
        opt_rows.append(dict(o, matched=0, approved=ref is not None,
                             approver=ref.approver if ref else o.get("approver"),
                             expires=ref.expires if ref else o.get("expires")))
        refs.append(ref)

    still: list[Finding] = []
    waived: list[Waived] = []
    for f in failed:
        waiver = next((w for w in live if w.matches(f, stack)), None)
        if waiver is not None:
            used.add(waiver.id or "")
            waived.append(Waived(f, waiver.ref()))
            continue
        hit = next((i for i, o in enumerate(opt_rows) if refs[i] is not None and _opt_out_matches(o, f, compose_names)),
                   None)
        if hit is not None:
            opt_rows[hit]["matched"] += 1
            waived.append(Waived(f, refs[hit]))
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
    return still, waived, self_waivers, stale, [w.record() for w in expired], opt_rows, problems
