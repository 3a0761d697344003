"""The SLM rules as CrossGuard validate functions (importable and unit-testable; no PolicyPack here).

Each Kubernetes rule in policies/rules becomes one ResourceValidationPolicy over the resource's
inputs (camelCase, like the rendered manifest); each compose rule judges pulumi-docker
``Container`` inputs converted to the equivalent compose service; the cross-resource rules
(NetworkPolicy coverage, exposure through the auth proxy) run as one StackValidationPolicy.
checkov's built-in checks are not in the pack (they need checkov); the offline gate runs them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

_HERE = Path(__file__).resolve().parent
# An assembled pack (`slm-deploy policies --pack DIR`) vendors the `policies` package beside this file;
# in the repository the pack sits in policies/crossguard, two directories below the package's root.
_ROOT = _HERE if (_HERE / "policies" / "rules").is_dir() else _HERE.parents[1]
if not sys.path or sys.path[0] != str(_ROOT):  # first, so a vendored copy wins over any installed one
    sys.path.insert(0, str(_ROOT))

from policies.compose.runner import load_compose_checks  # noqa: E402
from policies.compose.service import CONTAINER_TYPE, is_secret_placeholder  # noqa: E402
from policies.compose.service import container_service as translate  # noqa: E402
from policies.registry import KUBERNETES_RULES  # noqa: E402
from policies.rules._types import CheckMeta, Status  # noqa: E402
from policies.rules.manifest_set import METAS as MANIFEST_SET_METAS  # noqa: E402
from policies.rules.manifest_set import check_manifest_set  # noqa: E402

__all__ = [
    "ReportViolation", "k8s_object", "container_service", "k8s_validator", "compose_validator",
    "validate_manifest_set", "resource_policies_spec", "policy_name", "MANIFEST_SET_METAS",
]

ReportViolation = Callable[..., None]
_CONTAINER = CONTAINER_TYPE


def policy_name(meta: CheckMeta) -> str:
    return meta.id.lower().replace("_", "-")


def _plain(value: Any) -> Any:
    """Mappings/sequences from the engine (may be proxies) -> plain dicts/lists."""
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def k8s_object(resource_type: str, props: Any) -> dict | None:
    """``kubernetes:apps/v1:Deployment`` inputs -> the manifest dict (apiVersion/kind filled in)."""
    if not resource_type.startswith("kubernetes:") or resource_type.count(":") != 2:
        return None
    _, group_version, kind = resource_type.split(":")
    obj = _plain(props) or {}
    obj.setdefault("kind", kind)
    obj.setdefault("apiVersion", group_version.removeprefix("core/"))
    return obj


def _secret_at_policy_time(content: Any) -> bool:
    """An upload is a secret when the offline synth marked it, or when the engine hands over a value that is
    not plain text (a secret or an unknown at preview)."""
    return is_secret_placeholder(content) or not isinstance(content, str)


def container_service(props: Any, name: str | None = None) -> dict:
    """pulumi-docker Container inputs -> the compose service the offline renderer writes (the same translation,
    policies/compose/service.py). Without the stack's other resources there is no ``build`` or ``depends_on``."""
    inputs = _plain(props) or {}
    return translate(inputs, name=name or str(inputs.get("name") or ""), is_secret=_secret_at_policy_time).service


def _report(report_violation: ReportViolation, meta: CheckMeta, reasons: tuple[str, ...], urn: str | None = None) -> None:
    message = f"{meta.id} {meta.name}: " + "; ".join(reasons or ("failed",))
    if urn is None:
        report_violation(message)
    else:
        report_violation(message, urn)


def k8s_validator(rule: Any) -> Callable[[Any, ReportViolation], None]:
    """A validate(args, report_violation) for one Kubernetes rule module (META + evaluate)."""

    def validate(args: Any, report_violation: ReportViolation) -> None:
        obj = k8s_object(args.resource_type, args.props)
        if obj is None or (rule.META.kinds and obj.get("kind") not in rule.META.kinds):
            return
        result = rule.evaluate(obj)
        if result.status is Status.FAILED:
            _report(report_violation, rule.META, result.reasons)

    validate.__name__ = f"validate_{rule.META.id.lower()}"
    return validate


def compose_validator(check: Any) -> Callable[[Any, ReportViolation], None]:
    """A validate(args, report_violation) for one compose check, over pulumi-docker Containers."""

    def validate(args: Any, report_violation: ReportViolation) -> None:
        if args.resource_type != _CONTAINER:
            return
        props = _plain(args.props) or {}
        name = str(props.get("name") or args.name)
        service = container_service(props, name)
        result = check.evaluate(name, service, {"services": {name: service}})
        if result.status is Status.FAILED:
            _report(report_violation, check.META, result.reasons)

    validate.__name__ = f"validate_{check.META.id.lower()}"
    return validate


def validate_manifest_set(args: Any, report_violation: ReportViolation) -> None:
    """StackValidationPolicy: the cross-resource rules over every Kubernetes resource of the stack."""
    objects, urns = [], {}
    for res in args.resources:
        obj = k8s_object(res.resource_type, res.props)
        if obj is None:
            continue
        meta = obj.setdefault("metadata", {})
        meta.setdefault("name", res.name)
        objects.append(obj)
        urns[f"{obj['kind']}.{meta.get('namespace') or 'default'}.{meta.get('name')}"] = res.urn
    metas = {m.id: m for m in MANIFEST_SET_METAS}
    for finding in check_manifest_set(objects):
        if finding.status is Status.FAILED:
            message_meta = metas.get(finding.check_id)
            reasons = (f"{finding.resource}: " + "; ".join(finding.reasons),)
            if message_meta is None:
                report_violation(f"{finding.check_id} {finding.check_name}: {reasons[0]}")
            else:
                _report(report_violation, message_meta, reasons, urns.get(finding.resource))


def resource_policies_spec() -> list[tuple[CheckMeta, Callable[[Any, ReportViolation], None]]]:
    """(meta, validate) for every per-resource SLM rule: Kubernetes rules, then compose rules."""
    spec = [(rule.META, k8s_validator(rule)) for rule in KUBERNETES_RULES]
    index = {meta.id: i for i, (meta, _) in enumerate(spec)}
    for check in load_compose_checks():
        if check.META.id in index:  # a Docker twin of a Kubernetes rule: one policy, each validator on its own type
            meta, k8s_validate = spec[index[check.META.id]]
            spec[index[check.META.id]] = (meta, _either(k8s_validate, compose_validator(check)))
        else:
            spec.append((check.META, compose_validator(check)))
    return spec


def _either(*validators: Callable[[Any, ReportViolation], None]) -> Callable[[Any, ReportViolation], None]:
    """One validate that runs each (each ignores resource types it does not judge)."""

    def validate(args: Any, report_violation: ReportViolation) -> None:
        for v in validators:
            v(args, report_violation)

    validate.__name__ = validators[0].__name__
    return validate
