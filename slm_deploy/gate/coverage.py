"""Coverage proof: every rendered object got results from the checks that apply to its kind.

checkov drops some inputs without a word: its kubernetes parser skips any file that looks like a Helm
template (``{{ .Values.`` / ``{{ .Release.``), and a file it cannot read yields nothing. A gate that
only reports what checkov returned would then pass an object nobody judged. So the gate counts
results per object and fails every object that should have been judged and was not
(``SLM_GATE_UNSCANNED``):

* a Kubernetes object of a kind some loaded check applies to, with no checkov result;
* a generated Dockerfile with no checkov dockerfile result;
* a compose service with no compose-check result.

Results of the gate's own steps (schemas, manifest-set rules, inline-suppression scan) do not count:
they always run, so they prove nothing about checkov.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from slm_deploy.gate.result import GATE_CHECKS, Finding

__all__ = ["unscanned"]

CHECK_ID = "SLM_GATE_UNSCANNED"


def _judged(findings: Iterable[Finding], sources: set[str]) -> set[str]:
    return {f.resource for f in findings if f.source in sources}


def _finding(resource: str, file: str, message: str, kind: str, namespace: str = "", name: str = "") -> Finding:
    return Finding(CHECK_ID, GATE_CHECKS[CHECK_ID][0], resource, file, message, severity="HIGH", source="gate",
                   kind=kind, namespace=namespace, name=name or resource)


def unscanned(
    build_dir: Path,
    manifests: dict[Path, Any],
    dockerfiles: list[Path],
    compose: dict[str, Any] | None,
    results: Iterable[Finding],
    k8s_kinds: set[str],
    rels: dict[Path, str] | None = None,
) -> list[Finding]:
    """One ``SLM_GATE_UNSCANNED`` failure per rendered object that no applicable check judged.

    ``results``: every passed, failed and skipped finding of the run (an iterable of them, read once per source);
    ``k8s_kinds``: the kinds at least one loaded Kubernetes check applies to
    (:func:`slm_deploy.gate.scan.kubernetes_check_kinds`); ``rels``: each manifest's and Dockerfile's path relative to
    ``build_dir`` when the caller has them (else worked out here).
    """
    from slm_deploy.gate.scan import k8s_resource_id, split_k8s_resource

    out: list[Finding] = []
    results = list(results)
    checkov = _judged(results, {"checkov"})
    rels = rels or {}
    for path, obj in manifests.items():
        rel = rels.get(path) or path.relative_to(build_dir).as_posix()
        if not isinstance(obj, dict):
            out.append(_finding(f"File.{rel}", rel, "not one Kubernetes object: no check can judge it", "File", name=rel))
            continue
        if obj.get("kind") not in k8s_kinds:
            continue
        resource = k8s_resource_id(obj)
        if resource not in checkov:
            kind, ns, name = split_k8s_resource(resource)
            out.append(_finding(
                resource, rel,
                f"checkov returned no result for this {kind} although {kind} checks are loaded: the file was not "
                "scanned (e.g. it looks like a Helm template to checkov: '{{ .Values.' / '{{ .Release.')",
                kind, ns, name))
    for path in dockerfiles:
        rel = rels.get(path) or path.relative_to(build_dir).as_posix()
        if f"Dockerfile.{rel}" not in checkov:
            out.append(_finding(f"Dockerfile.{rel}", rel, "checkov returned no dockerfile result for this file",
                                "Dockerfile", name=rel))
    services = (compose or {}).get("services") if isinstance(compose, dict) else None
    judged = _judged(results, {"compose"})
    for name in (services or {}) if isinstance(services, dict) else ():
        if f"service.{name}" not in judged:
            out.append(_finding(f"service.{name}", "compose.yaml", "no compose check returned a result for this service",
                                "service", name=str(name)))
    return out
