"""The policy catalog: every enforced check; policies/CATALOG.md stays in sync with the command."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from gate_helpers import REPO
from slm_deploy.cli import app
from slm_deploy.gate.catalog import catalog_markdown, enforced_checks


def test_catalog_md_in_sync():
    expected = catalog_markdown(enforced_checks())
    actual = (REPO / "policies" / "CATALOG.md").read_text()
    assert actual == expected, "regenerate: ./dev policies --markdown > policies/CATALOG.md"


def test_policies_json_lists_builtins_and_ours():
    result = CliRunner().invoke(app, ["policies", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    by_id = {e["id"]: e for e in entries}
    builtin = [e for e in entries if e["source"] == "checkov built-in"]
    assert len([e for e in builtin if e["framework"] == "kubernetes"]) >= 110
    assert len([e for e in builtin if e["framework"] == "dockerfile"]) >= 20
    assert {"CKV_K8S_43", "CKV2_K8S_6", "CKV_DOCKER_2", "CKV2_DOCKER_1"} <= set(by_id)
    ours = [e for e in entries if e["source"] == "slm-deploy"]
    assert {e["id"] for e in ours} >= {f"CKV_SLM_{n:03d}" for n in range(1, 20)}
    assert all(e["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL") and e["rationale"] for e in ours)
    assert all(e["rationale"] for e in entries)


def test_policies_markdown_matches_module():
    result = CliRunner().invoke(app, ["policies", "--markdown"])
    assert result.exit_code == 0 and result.stdout == catalog_markdown(enforced_checks())


def test_catalog_says_what_really_happens_to_checks_that_do_not_apply():
    md = catalog_markdown(enforced_checks())
    intro = md.split("## ", 1)[0]
    assert "waived by name" not in intro
    assert "produces no result" in intro and "not applicable" in intro
    assert "fixed, or waived" in intro and "component opt-out" in intro


def test_builtin_rationale_uses_checkov_text_not_the_name():
    from slm_deploy.gate.catalog import _builtin_rationale, _builtin_reference

    base = {"id": "CKV_K8S_43", "name": "Image should use digest", "framework": "kubernetes"}
    with_guideline = dict(base, guideline="https://docs.example.org/ckv-k8s-43", description="")
    assert "https://docs.example.org/ckv-k8s-43" in _builtin_rationale(with_guideline)
    assert _builtin_reference(with_guideline) == "https://docs.example.org/ckv-k8s-43"
    described = dict(base, guideline="", description="Tags move; a digest pins the exact image.")
    assert _builtin_rationale(described).startswith("Tags move; a digest pins the exact image.")
    bare = dict(base, guideline="", description="")
    assert "Image should use digest" not in _builtin_rationale(bare)
    assert "policy index" in _builtin_rationale(bare) and _builtin_reference(bare).startswith("https://www.checkov.io/")
    for e in enforced_checks():
        if e.source == "checkov built-in":
            assert e.name.rstrip(".") not in e.rationale and e.reference.startswith("https://"), e.id


def test_builtin_description_comes_from_the_check_object():
    from types import SimpleNamespace

    from slm_deploy.gate.scan import _description

    assert _description(SimpleNamespace(details=["Uses a digest."])) == "Uses a digest."
    assert _description(SimpleNamespace(description="Pinned images.", details=[])) == "Pinned images."
    assert _description(SimpleNamespace(details=[])) == ""
