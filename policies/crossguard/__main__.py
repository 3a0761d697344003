"""slm-deploy CrossGuard pack: `pulumi preview --policy-pack policies/crossguard`.

Constructing PolicyPack starts the policy gRPC server and never returns: keep it here only;
the validate functions live in slm_rules.py (unit-tested directly).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy  # noqa: E402

import slm_rules  # noqa: E402

_LEVEL = {"CRITICAL": EnforcementLevel.MANDATORY, "HIGH": EnforcementLevel.MANDATORY,
          "MEDIUM": EnforcementLevel.MANDATORY, "LOW": EnforcementLevel.ADVISORY}

policies = [
    ResourceValidationPolicy(
        name=slm_rules.policy_name(meta),
        description=f"{meta.id}: {meta.name}. {meta.rationale}",
        validate=validate,
        enforcement_level=_LEVEL.get(meta.severity, EnforcementLevel.MANDATORY),
    )
    for meta, validate in slm_rules.resource_policies_spec()
]
policies.append(
    StackValidationPolicy(
        name="slm-manifest-set",
        description="; ".join(f"{m.id}: {m.name}" for m in slm_rules.MANIFEST_SET_METAS),
        validate=slm_rules.validate_manifest_set,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
)

PolicyPack(name="slm-deploy", policies=policies, enforcement_level=EnforcementLevel.MANDATORY)
