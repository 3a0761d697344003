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
