"""A re-gate validates its few changed manifests in the prewarmed worker (slm_deploy/gate/runner.py, ``_SchemaWork``):
the verdict is the one an uncached in-process gate gives, a changed object is re-judged both ways (valid -> invalid
-> valid), and the parent never imports jsonschema for it."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap

import yaml

from gate_helpers import PLAIN_DEPLOYMENT, REPO, write_build
from slm_deploy.gate import run_gate

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "demo"},
             "data": {"a": "b"}}

_REGATE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from slm_deploy.gate.worker import ScanWorker
    with ScanWorker() as worker:
        from slm_deploy.gate import run_gate
        result = run_gate(Path(sys.argv[1]), "t", worker=worker)
    data = result.to_json()
    print(json.dumps({"verdict": data, "cached": result.cached, "jsonschema": "jsonschema" in sys.modules}))
""")


def _regate(build, env) -> dict:
    out = subprocess.run([sys.executable, "-c", _REGATE, str(build)], capture_output=True, text=True, cwd=REPO,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _plain(build) -> dict:
    return run_gate(build, "t", use_cache=False).to_json()


def _reports(build) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((build / "gate").iterdir())}


def test_a_regate_validates_in_the_worker_as_in_process(tmp_path):
    env = dict(os.environ, SLM_DEPLOY_CACHE_DIR=str(tmp_path / "cache"))
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT, CONFIGMAP])
    first = _regate(build, env)  # fills the per-object store and the catalog: a cold gate, validated in the parent
    assert first["jsonschema"] and not first["cached"]
    path = build / "manifests" / "demo.deployment.plain.yaml"
    typo = copy.deepcopy(PLAIN_DEPLOYMENT)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"  # a strict-schema error
    fixed = copy.deepcopy(PLAIN_DEPLOYMENT)
    fixed["spec"]["replicas"] = 2
    for obj, fails in ((typo, True), (fixed, False)):
        path.write_text(yaml.safe_dump(obj, sort_keys=True))
        regate = _regate(build, env)
        assert not regate["cached"] and not regate["jsonschema"]  # validated in the worker
        reports = _reports(build)
        expected = _plain(build)
        assert _reports(build) == reports  # byte for byte what a cold gate of the same build writes
        got, want = dict(regate["verdict"]), json.loads(json.dumps(expected))
        # a cached run lists its reused results after the fresh ones (the reports sort them): compare as sets
        for key in ("passed", "failed", "not_applicable", "self_waivers", "waived"):
            assert sorted(map(json.dumps, got.pop(key))) == sorted(map(json.dumps, want.pop(key))), key
        assert got == want
        schema = [f for f in regate["verdict"]["failed"] if f["check_id"] == "K8S_SCHEMA"]
        assert bool(schema) == fails
        if fails:
            assert "imagePullPolcy" in schema[0]["message"] and schema[0]["file"] == "manifests/" + path.name
