"""``split_not_applicable`` with its per-file memos gives what the plain code before it gave (``_reference`` below):
the same findings, in the same order, with the same messages, on the reference stacks' objects and the ratings'
control-plane checks, on odd objects (no containers, non-mapping objects, commands that are not lists) and on
findings of a Finding subclass."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policies.builtin_severity import builtin_ratings
from slm_deploy.gate.applicability import container_commands, split_not_applicable
from slm_deploy.gate.result import Finding, finding_with


def _reference(passed: list[Finding], objects_by_file: dict[str, Any],
               runs: dict[str, tuple[str, ...]]) -> tuple[list[Finding], list[Finding]]:
    """slm_deploy.gate.applicability.split_not_applicable as it was."""
    still, not_applicable = [], []
    commands: dict[str, list[list[str]]] = {}
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


@dataclass(frozen=True)
class _Sub(Finding):
    pass


def _objects(out_dir: Path) -> dict[str, Any]:
    return {f"manifests/{p.name}": yaml.safe_load(p.read_text()) for p in sorted((out_dir / "manifests").glob("*.yaml"))}


def test_same_split_as_before(built):
    runs = {cid: r.runs for cid, r in builtin_ratings().items() if r.runs}
    assert runs
    objects: dict[str, Any] = {}
    for stack in ("prod", "edge"):
        objects |= _objects(built(stack).out_dir)
    objects |= {
        "manifests/odd.apiserver.yaml": {"kind": "Pod", "spec": {"containers": [{"command": ["kube-apiserver", "-v"]}]}},
        "manifests/odd.etcd.yaml": {"kind": "Deployment", "spec": {"template": {"spec": {
            "initContainers": [{"command": ["etcd"]}], "containers": [{"command": "etcd"}]}}}},
        "manifests/odd.list.yaml": ["not", "a", "mapping"],
        "manifests/odd.empty.yaml": {},
        "manifests/odd.nocmd.yaml": {"kind": "Pod", "spec": {"containers": [{"name": "x"}, "not-a-container"]}},
    }
    check_ids = sorted(runs)[:12] + ["CKV_K8S_8", "CKV_SLM_001"]
    passed = []
    for i, file in enumerate(sorted(objects) + ["compose.yaml", "files/x.yaml"]):
        for cid in check_ids:
            cls = _Sub if i % 7 == 3 else Finding
            passed.append(cls(cid, f"name of {cid}", f"res{i}", file, "", severity="HIGH" if i % 2 else "",
                              kind="Deployment", name=f"n{i}", line=i))
    assert split_not_applicable(passed, objects, runs) == _reference(passed, objects, runs)
    still, na = split_not_applicable(passed, objects, runs)
    assert still and na and any(f.name in {p.name for p in passed if type(p) is _Sub} for f in na)
    assert [type(f) for f in na] == [type(f) for f in _reference(passed, objects, runs)[1]]


def test_the_gate_verdicts_split_as_before(built):
    """The reference builds' own results: what the gate recorded as passed and not applicable, split again."""
    runs = {cid: r.runs for cid, r in builtin_ratings().items() if r.runs}
    for stack in ("prod", "dev", "edge"):
        build = built(stack)
        findings = build.gate.passed + build.gate.not_applicable
        objects = _objects(build.out_dir)
        assert split_not_applicable(findings, objects, runs) == _reference(findings, objects, runs)
