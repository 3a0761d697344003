"""Verdict cache: an unchanged stack re-gates from the cache without importing checkov."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from gate_helpers import PLAIN_DEPLOYMENT, REPO, waiver, write_build, write_waivers
from slm_deploy.gate import run_gate

_PROBE = """
import json, sys
from pathlib import Path
from slm_deploy.gate import run_gate
r = run_gate(Path(sys.argv[1]), "t")
print(json.dumps({"cached": r.cached, "ok": r.ok, "failed": len(r.failed), "checkov": "checkov" in sys.modules,
                  "reports": sorted(p.name for p in (Path(sys.argv[1]) / "gate").iterdir())}))
"""


def _probe(build, env):
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(build)], capture_output=True, text=True, env=env,
                          cwd=REPO, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cache_hit_does_not_import_checkov(tmp_path):
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    env = dict(os.environ)
    first = _probe(build, env)
    assert first["cached"] is False and first["checkov"] is True
    second = _probe(build, env)
    assert second == dict(first, cached=True, checkov=False)
    assert second["reports"] == ["junit.xml", "report.md", "report.sarif", "verdict.json"]


def test_cache_key_covers_content_and_waivers(tmp_path):
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    first = run_gate(build, "t")
    assert not first.cached and run_gate(build, "t").cached
    # a changed waiver file is a different verdict
    waivers = write_waivers(tmp_path / "w.yaml", [waiver("CKV_K8S_43", "Deployment/plain")])
    changed = run_gate(build, "t", waivers_path=waivers)
    assert not changed.cached and len(changed.failed) == len(first.failed) - 1
    # a changed rendered file is a different verdict
    (build / "manifests" / "demo.deployment.plain.yaml").write_text(
        (build / "manifests" / "demo.deployment.plain.yaml").read_text().replace("nginx:1.27", "nginx:1.28"))
    assert not run_gate(build, "t", waivers_path=waivers).cached
    # the cached verdict round-trips exactly
    again = run_gate(build, "t", waivers_path=waivers)
    assert again.cached and again.to_json() == run_gate(build, "t", waivers_path=waivers, use_cache=False).to_json() | {
        "cache_key": again.cache_key}


def test_no_cache_env(tmp_path, monkeypatch):
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    run_gate(build, "t")
    monkeypatch.setenv("SLM_DEPLOY_NO_CACHE", "1")
    assert not run_gate(build, "t").cached


def test_stored_findings_equal_asdict_and_stay_flat():
    """The verdict store writes findings without dataclasses.asdict (speed); that is only equal while a
    Finding holds scalars."""
    from dataclasses import asdict, fields

    from slm_deploy.gate.result import Finding, GateResult

    finding = Finding("CKV_K8S_1", "name", "Deployment.ns.x", "manifests/x.yaml", "msg", severity="HIGH", line=4)
    result = GateResult("demo", passed=[finding], failed=[finding])
    assert result.to_json()["passed"] == [asdict(finding)] == result.to_json()["failed"]
    assert all(f.type in ("str", "int") for f in fields(Finding))
    assert GateResult.from_json(result.to_json()).passed == [finding]


def test_compact_cache_form_round_trips_a_real_verdict(built):
    """The verdict cache stores findings as value lists (GateResult.to_cache): prod's and dev's verdicts, with
    waived and not-applicable findings, come back equal; a record of another finding shape is refused (a cache miss)."""
    import json

    import pytest

    from slm_deploy.gate.result import GateResult, finding_from_values

    gates = [built(stack).gate for stack in ("prod", "dev")]
    assert any(g.waived for g in gates) and any(g.not_applicable for g in gates) and all(g.passed for g in gates)
    for gate in gates:
        again = GateResult.from_cache(json.loads(json.dumps(gate.to_cache())))
        assert again.to_json() == gate.to_json()
        assert type(again.passed[0]) is type(gate.passed[0]) and again.passed[0] == gate.passed[0]
    with pytest.raises(ValueError):
        GateResult.from_cache(dict(gate.to_cache(), finding_fields=["check_id"]))
    with pytest.raises(ValueError):
        finding_from_values(["only", "three", "values"])


def _tree_before(root, skip_top=()):
    """cache._tree as it was (Path.rglob): the reference the string walk must equal."""
    from pathlib import Path

    root = Path(root)
    if not root.exists():
        return []
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not ({"__pycache__", ".pytest_cache"} & set(p.parts))
                  and p.suffix not in (".pyc",) and p.relative_to(root).parts[0] not in skip_top)


def test_file_walk_equals_the_path_walk(tmp_path, built):
    """The cache key's and fingerprint's file walk (build_files._files) lists the same files, in the same order, with the
    same relative names as the Path-based walk it replaced: on the repository's policies and gate code, a built
    stack, and a tree of odd names (symlinks, caches, .pyc, names that sort differently as strings)."""
    import os

    from slm_deploy.gate.build_files import _files
    from stacks.loader import project_root

    odd = tmp_path / "odd"
    for rel in ("a/b.txt", "a-c.txt", "a.b/x", "gate/skip.txt", "keep/gate/kept.txt", "__pycache__/x.py", "d/__pycache__/y",
                "d/m.pyc", "d/..pyc", "d/.pyc", "d/n.", ".hidden", "e/.pytest_cache/z", "f/g/h/i.yaml", "skipfile"):
        (odd / rel).parent.mkdir(parents=True, exist_ok=True)
        (odd / rel).write_text(rel)
    os.symlink(odd / "f", odd / "link-dir")  # not entered (as rglob)
    os.symlink(odd / "a-c.txt", odd / "d" / "link-file")  # a file through a link: listed
    os.symlink(odd / "missing", odd / "d" / "broken")  # not a file
    root = project_root()
    cases = [(odd, ()), (odd, ("gate", "skipfile")), (root / "policies", ("crossguard", "CATALOG.md")),
             (root / "slm_deploy" / "gate", ()), (built("prod").out_dir, ("gate", ".slm-deploy-input")),
             (root / "components" / "validation.py", ()), (odd / "missing", ())]
    for where, skip in cases:
        before = _tree_before(where, skip)
        assert [(p.relative_to(where).as_posix() if p != where else p.name, str(p)) for p in before] == _files(where, skip)
    assert len(_files(odd, ("gate", "skipfile"))) == 9  # and the order differs from plain string order:
    assert [r for r, _ in _files(odd)][1:3] == ["a/b.txt", "a-c.txt"]


def test_finding_with_is_dataclasses_replace():
    from dataclasses import replace

    import pytest

    from slm_deploy.gate.result import Finding, finding_values, finding_with

    finding = Finding("CKV_K8S_1", "name", "Deployment.ns.x", "manifests/x.yaml", "msg", severity="HIGH", line=4)
    changed = finding_with(finding, message="other", line=5)
    assert changed == replace(finding, message="other", line=5) and finding.message == "msg"
    assert hash(changed) == hash(replace(finding, message="other", line=5)) and type(changed) is Finding
    assert list(finding_values(changed)) == [getattr(changed, f) for f in Finding.__dataclass_fields__]
    with pytest.raises(TypeError):
        finding_with(finding, nonsense=1)
