"""The render contract every component keeps, named once.

A component is a ``pulumi.ComponentResource`` with a stable type token. Its resource
inputs carry two well-known keys that the renderer (``slm_deploy/render.py``) and the
gate read without knowing the component:

* :data:`SECURITY_OPT_OUTS` - the typed, reasoned opt-outs from secure defaults
  (records from :func:`components.optouts.opt_out_records`); the gate reports them
  beside the reviewed waivers;
* :data:`GENERATED_FILES` - files the component generates (Dockerfiles, rules,
  dashboards): ``{relative path: text}``, written to ``build/<stack>/files/<name>/``.

Every Args model derives from :class:`ArgsModel`: frozen, unknown keys are errors,
camelCase aliases and snake_case names both accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pulumi
from pydantic import BaseModel, ConfigDict

__all__ = ["ArgsModel", "SlmComponent", "SECURITY_OPT_OUTS", "GENERATED_FILES", "EXTERNAL_SECRETS_ANNOTATION",
           "EXTERNAL_CLAIMS_ANNOTATION"]

SECURITY_OPT_OUTS = "securityOptOuts"
"""Input key: the component's opt-out records (a list, empty when it keeps every default)."""

GENERATED_FILES = "generatedFiles"
EXTERNAL_SECRETS_ANNOTATION = "slm-deploy.io/external-secrets"
"""Pod-template annotation: comma-separated Secrets the user creates (a config field names each one); the gate's
apply-validity stage accepts a reference to them although the stack does not render them."""
EXTERNAL_CLAIMS_ANNOTATION = "slm-deploy.io/external-claims"
"""Pod-template annotation: comma-separated PersistentVolumeClaims the user creates (source.prefilledClaim), the
same for claims."""
"""Input key: ``{relative path: text}`` of files the component generates for the renderer and the gate."""


class ArgsModel(BaseModel):
    """Base of every component Args and config model: frozen, ``extra="forbid"``, aliases or names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class SlmComponent(pulumi.ComponentResource):
    """A component resource that states its opt-outs (and generated files) in its inputs.

    Subclasses set :attr:`TYPE` (e.g. ``slm:serving:VllmService``) and call
    ``super().__init__(name, opt_outs=..., generated_files=..., opts=opts)``.
    """

    TYPE: ClassVar[str]

    def __init__(
        self,
        name: str,
        *,
        opt_outs: Sequence[Mapping[str, Any]] = (),
        generated_files: Mapping[str, str] | None = None,
        props: Mapping[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs: dict[str, Any] = dict(props or {})
        inputs[SECURITY_OPT_OUTS] = list(opt_outs)
        if generated_files is not None:
            inputs[GENERATED_FILES] = dict(generated_files)
        super().__init__(self.TYPE, name, inputs, opts)
