"""Control-plane flag checks on workloads: "not applicable", not "passed".

checkov's kube-apiserver / etcd / kubelet / controller-manager / scheduler flag checks target every pod
spec, and return PASSED for a container that does not run that binary. A vLLM or Grafana Deployment
"passing" fifty API-server checks inflates the count a reviewer reads; the gate records those results
as not applicable, with the reason. The binaries each check judges come from our reviewed rating file
(policies/builtin_severity.yaml, ``runs``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slm_deploy.gate.result import Finding, finding_with

__all__ = ["split_not_applicable", "container_commands"]


def _pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = obj.get("spec") or {}
    for candidate in (spec, (spec.get("template") or {}).get("spec"),
                      (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")):
        if isinstance(candidate, dict) and ("containers" in candidate or "initContainers" in candidate):
            yield candidate


def container_commands(obj: dict[str, Any]) -> list[list[str]]:
    """The ``command`` of every container and init container of a workload object."""
    commands = []
    for pod in _pod_specs(obj if isinstance(obj, dict) else {}):
        for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            command = container.get("command") if isinstance(container, dict) else None
            commands.append([str(c) for c in command] if isinstance(command, list) else [])
    return commands


def split_not_applicable(passed: list[Finding], objects_by_file: dict[str, Any],
                         runs: dict[str, tuple[str, ...]]) -> tuple[list[Finding], list[Finding]]:
    """(still passed, not applicable). ``objects_by_file``: build-relative manifest path -> object;
    ``runs``: check id -> control-plane binaries it judges (checks absent here are left alone)."""
    still, not_applicable = [], []
    commands: dict[str, list[list[str]]] = {}  # per file, read once (a workload has ~50 such findings)
    for finding in passed:
        binaries = runs.get(finding.check_id)
        obj = objects_by_file.get(finding.file)
        if not binaries or obj is None:
            still.append(finding)
            continue
        if finding.file not in commands:
            commands[finding.file] = container_commands(obj)
        if any(b in command for command in commands[finding.file] for b in binaries):
            still.append(finding)
            continue
        what = " or ".join(binaries)
        not_applicable.append(finding_with(finding, message=f"checks {what} flags; no container here runs {what}"))
    return still, not_applicable
