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
    assert actual == expected, "regenerate: uv run slm-deploy policies --markdown > policies/CATALOG.md"


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
