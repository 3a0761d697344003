"""Typed, reasoned opt-outs from secure defaults.

A component never drops a hardening default silently. Turning one off takes a
:class:`SecurityOptOut` naming the setting and the reason; the component lists
its opt-outs in its resource inputs (``securityOptOuts``) so the offline synth
records them and the gate reports them beside the reviewed waivers.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.base import ArgsModel
from components.validation import DnsLabel

__all__ = ["OptOutSetting", "SecurityOptOut", "OPT_OUT_CHECKS", "opt_out_records"]

OptOutSetting = Literal[
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "highUid",
    "networkPolicy",
    "imageDigest",
    "authProxy",
]

# Which checks an opt-out is expected to trip, so the gate can match it to findings: the Kubernetes
# built-ins and, for the Docker target, the compose twin (CKV_SLM_020: non-root user with uid >= 10000).
OPT_OUT_CHECKS: dict[str, list[str]] = {
    "readOnlyRootFilesystem": ["CKV_K8S_22"],
    "runAsNonRoot": ["CKV_K8S_23", "CKV_K8S_40", "CKV_SLM_020"],
    "highUid": ["CKV_K8S_40", "CKV_SLM_020"],
    "networkPolicy": ["CKV2_K8S_6"],
    "imageDigest": ["CKV_K8S_43"],
    "authProxy": [],
}


class SecurityOptOut(ArgsModel):
    """Turn off one secure default, with a reason a reviewer can read."""

    setting: OptOutSetting = Field(description="The secure default to turn off. Required.")
    reason: str = Field(min_length=15, description="Why, for the security review, in words (at least 15 characters and 4 different words). Required.")
    container: DnsLabel | None = Field(
        default=None, description="Limit the opt-out to one container. Default None: the whole workload."
    )
    approver: str | None = Field(
        default=None, min_length=3,
        description="Who reviewed and approved this opt-out (set together with `expires`). Default None: a waiver "
        "in policies/waivers.yaml (check SLM_GATE_OPT_OUT, resource OptOut/<instance>:<setting>) must back it, "
        "or the gate fails.",
    )
    expires: date | None = Field(
        default=None,
        description="ISO date the approval ends (set together with `approver`; at most the waiver file's "
        "maxExpiryDays ahead, 180 by default). Default None: see `approver`.",
    )

    @field_validator("reason")
    @classmethod
    def _words(cls, value: str) -> str:
        if len({w.lower() for w in re.findall(r"[A-Za-z]{3,}", value)}) < 4:
            raise ValueError("reason must say why in words (at least 4 different words), not padding")
        return value

    @model_validator(mode="after")
    def _approval_complete(self) -> "SecurityOptOut":
        if (self.approver is None) != (self.expires is None):
            raise ValueError("approver and expires go together: an approval names who and until when")
        return self


def opt_out_records(component: str, resource: str, opt_outs: list[SecurityOptOut]) -> list[dict]:
    """Plain records for a component's inputs; the gate turns them into waiver-report rows."""
    return [
        {
            "component": component,
            "resource": resource,
            "setting": o.setting,
            "checks": OPT_OUT_CHECKS[o.setting],
            "container": o.container,
            "reason": o.reason,
            "approver": o.approver,
            "expires": o.expires.isoformat() if o.expires else None,
        }
        for o in opt_outs
    ]
