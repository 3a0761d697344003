"""Apply-validity's checks of one object alone are cached per rendered file (``Plan.own_apply``): a gate served
from the cache finds what the uncached stage finds on the reference builds, and a changed object is judged again
(a bad label value appears and disappears with the one file that carries it)."""
from __future__ import annotations

import copy

import yaml

from gate_helpers import PLAIN_DEPLOYMENT, copy_build, write_build
from slm_deploy.gate import run_gate
from slm_deploy.gate.apply_validity import apply_findings, own_problems
from slm_deploy.gate.incremental import lookup
from slm_deploy.gate.object_cache import ObjectStore


def _plan(root, store):
    return lookup(store, root, sorted((root / "manifests").glob("*.yaml")), [])


def test_cached_checks_give_the_stage_s_findings(tmp_path, built):
    for stack in ("prod", "edge"):
        root = copy_build(built(stack).out_dir, tmp_path / stack)
        store = ObjectStore("s", "fp", tmp_path / f"cache-{stack}")
        expected = None
        for run in ("filled now", "from the store"):
            plan = _plan(root, store)
            parsed = plan.parse_manifests()
            if expected is None:
                expected = apply_findings(root, parsed, None)
            assert apply_findings(root, parsed, None, plan.own_apply, plan.rels) == expected, run
            records = [plan.cached.get(plan.keys[p]) or store._new["files"].get(plan.keys[p]) for p in parsed]
            assert all(isinstance(r.get("apply"), list) for r in records if r is not None)
            store.save()
            store = ObjectStore("s", "fp", tmp_path / f"cache-{stack}")


def test_a_changed_object_is_judged_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    bad = copy.deepcopy(PLAIN_DEPLOYMENT)
    bad["metadata"]["labels"] = {"team": "a b"}  # a label value the API server refuses
    root = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    path = root / "manifests" / "demo.deployment.plain.yaml"
    for obj, fails in ((PLAIN_DEPLOYMENT, False), (bad, True), (PLAIN_DEPLOYMENT, False), (bad, True)):
        path.write_text(yaml.safe_dump(obj, sort_keys=True))
        cached = run_gate(root, "t", write_reports=False)
        plain = run_gate(root, "t", use_cache=False, write_reports=False)
        found = [f for f in cached.failed if f.check_id == "SLM_APPLY_METADATA"]
        assert bool(found) == fails and found == [f for f in plain.failed if f.check_id == "SLM_APPLY_METADATA"]
        if fails:
            assert "'a b'" in found[0].message
    assert own_problems(bad)[0] and not own_problems(PLAIN_DEPLOYMENT)[0]
