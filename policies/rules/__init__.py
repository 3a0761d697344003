"""Pure SLM policy rules over plain dicts (one Kubernetes object, a manifest set or a
compose document). No checkov import, so the CrossGuard pack can reuse them as-is."""
from policies.rules._types import NA, CheckMeta, Finding, Result, Status

__all__ = ["NA", "CheckMeta", "Finding", "Result", "Status"]
