"""Risky engine settings need a reviewed exception (issue #10, item 3): each fails the gate until a waiver
in the reviewed file approves it."""

from __future__ import annotations

import pytest

from gate_helpers import waiver, write_waivers
from slm_deploy.gate import run_gate
from slm_deploy.pipeline import build_stack
from stacks.loader import load_stack
from tests.conftest import write_stack

VLLM = """config:
  slm-deploy:namespace: slm-t
  slm-deploy:vllm:
    - name: phi4-mini
      model: phi-4-mini-instruct
      gpu: l4
      extraArgs: {args}
"""


@pytest.mark.parametrize("args,check", [
    ('["--trust-remote-code"]', "CKV_SLM_021"),
    ('["--allowed-local-media-path", "/models"]', "CKV_SLM_022"),
    ('["--enable-log-requests", "--enable-log-outputs"]', "CKV_SLM_023"),
    ("['--allowed-origins', '[\"*\"]']", "CKV_SLM_024"),
    ("['--speculative-config', '{\"model\": \"org/draft\", \"num_speculative_tokens\": 4}']", "CKV_SLM_025"),
    ('["--data-parallel-address", "0.0.0.0"]', "CKV_SLM_026"),
])
def test_risky_vllm_flag_fails_until_a_waiver_approves_it(scratch_project, tmp_path, args, check):
    write_stack(scratch_project, "t", VLLM.format(args=args))
    build = build_stack(load_stack("t", scratch_project), tmp_path / "build")
    failed = [(f.check_id, f.resource) for f in build.gate.failed]
    assert failed == [(check, "Deployment.slm-t.phi4-mini")], failed
    path = write_waivers(tmp_path / "w.yaml", [waiver(check, {"kind": "Deployment", "name": "phi4-mini"}, stacks=["t"])])
    approved = run_gate(tmp_path / "build", "t", use_cache=False, waivers_path=path)
    assert approved.ok and [w.finding.check_id for w in approved.waived] == [check]


WEBUI = """config:
  slm-deploy:target: {target}
  slm-deploy:namespace: slm-t
  slm-deploy:ollama:
    models: [qwen3-0.6b]
    dockerUser: "10001:10001"
    webui:
      enabled: true
      enableSignup: true
      defaultUserRole: user
"""


@pytest.mark.parametrize("target,check,resource", [
    ("kubernetes", "CKV_SLM_027", "Deployment.slm-t.ollama-webui"),
    ("docker", "CKV_SLM_028", "service.ollama-webui"),
])
def test_open_signup_with_working_accounts_fails(scratch_project, tmp_path, target, check, resource):
    text = WEBUI.format(target=target)
    if target == "kubernetes":
        text = text.replace('    dockerUser: "10001:10001"\n', "")
    write_stack(scratch_project, "t", text)
    build = build_stack(load_stack("t", scratch_project), tmp_path / "build")
    assert (check, resource) in [(f.check_id, f.resource) for f in build.gate.failed]
    write_stack(scratch_project, "t", text.replace("defaultUserRole: user", "defaultUserRole: pending"))
    build = build_stack(load_stack("t", scratch_project), tmp_path / "build2")
    assert check not in {f.check_id for f in build.gate.failed}
