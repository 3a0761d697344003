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


_UNKNOWN = object()


def split_not_applicable(passed: list[Finding], objects_by_file: dict[str, Any],
                         runs: dict[str, tuple[str, ...]]) -> tuple[list[Finding], list[Finding]]:
    """(still passed, not applicable). ``objects_by_file``: build-relative manifest path -> object;
    ``runs``: check id -> control-plane binaries it judges (checks absent here are left alone).

    Linear in the stack's passed results (~17,000 such findings at 100 services), so each file's container commands,
    each (file, binaries) answer and each message are worked out once; a moved finding is copied by
    :func:`finding_with` (tests/gate/test_applicability.py compares the split with the code it replaced)."""
    still, not_applicable = [], []
    keep, moved = still.append, not_applicable.append
    runs_get, objects_get = runs.get, objects_by_file.get
    answers: dict[tuple[str, tuple[str, ...]], bool | None] = {}  # (file, binaries) -> a container runs one of them
    messages: dict[tuple[str, ...], str] = {}
    for finding in passed:
        binaries = runs_get(finding.check_id)
        if not binaries:
            keep(finding)
            continue
        file = finding.file
        memo = (file, binaries)
        runs_one = answers.get(memo, _UNKNOWN)
        if runs_one is _UNKNOWN:
            obj = objects_get(file)
            runs_one = answers[memo] = None if obj is None else any(
                b in command for command in container_commands(obj) for b in binaries)
        if runs_one is not False:  # None: no object (not a manifest), True: a container runs it
            keep(finding)
            continue
        message = messages.get(binaries)
        if message is None:
            what = " or ".join(binaries)
            message = messages[binaries] = f"checks {what} flags; no container here runs {what}"
        moved(finding_with(finding, message=message))
    return still, not_applicable
