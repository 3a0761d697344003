"""The Pulumi program gates itself: under a real preview a failing gate stops it before any registration."""

from __future__ import annotations

import pulumi
import pytest

from stacks.loader import load_stack, runtime_config
from slm_deploy.program_gate import require_gate
from slm_deploy.synth import SynthError, synthesize
from stacks.program import main
from stacks.schema import PROJECT


def _synth_with_gate(stack: str, gate, recorded: list, extra_secrets: dict[str, str] | None = None):
    loaded = load_stack(stack)
    config, secret_keys = runtime_config(loaded)
    for key, value in (extra_secrets or {}).items():
        config[f"{PROJECT}:{key}"] = value
        secret_keys.append(f"{PROJECT}:{key}")

    def program():
        main(gate=gate)

    result = synthesize(program, project=PROJECT, stack=stack, config=config, secret_keys=secret_keys)
    recorded.extend(result.resources)
    return result


def test_failing_gate_registers_nothing():
    calls = []

    def failing_gate(stack, values, secret_keys):
        calls.append((stack, values, secret_keys))
        raise pulumi.RunError("gate failed: CKV_K8S_1 on Deployment/x")

    recorded: list = []
    with pytest.raises(SynthError, match="gate failed"):
        _synth_with_gate("staging", failing_gate, recorded)
    assert calls and calls[0][0] == "staging"
    assert recorded == []


def test_gate_receives_the_validated_config_without_secret_values():
    seen = {}

    def spy(stack, values, secret_keys):
        seen.update(values=values, secret_keys=secret_keys)

    result = _synth_with_gate("staging", spy, [], extra_secrets={"apiKey": "[secret:apiKey]"})
    assert seen["values"]["namespace"] == load_stack("staging").config.namespace
    assert seen["secret_keys"] == ["apiKey"]  # names only
    assert "[secret:apiKey]" not in repr(seen)
    assert result.resources, "a passing gate lets the program register its resources"


def test_real_gate_failure_stops_the_program_before_any_registration(tmp_path, monkeypatch):
    """The real gate (child process: synth + render + checkov) fails on an expired waiver."""
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - id: W-TEST-EXPIRED\n"
        "    check: CKV_K8S_43\n"
        "    resource: {kind: Deployment, name: phi4-mini}\n"
        "    stacks: [staging]\n"
        "    reason: an exception that was only ever meant to be temporary\n"
        "    approver: security-review\n"
        "    expires: 2020-01-01\n"
    )
    monkeypatch.setenv("SLM_DEPLOY_WAIVERS", str(waivers))
    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    recorded: list = []
    with pytest.raises(SynthError, match=r"(?s)gate failed for stack 'staging'; nothing was registered.*SLM_GATE_EXPIRED_WAIVER.*W-TEST-EXPIRED"):
        _synth_with_gate("staging", require_gate, recorded)
    assert recorded == []


def test_real_gate_passes_for_a_reference_stack_and_program_proceeds():
    result = _synth_with_gate("staging", require_gate, [])
    assert any(r.type == "kubernetes:core/v1:Namespace" for r in result.resources)


def test_unchanged_stack_regates_without_synthesizing(tmp_path):
    """The program's gate keys its verdict on its inputs, so an unchanged stack skips synth and checkov."""
    import json as _json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    payload = _json.dumps({"values": load_stack("staging").config.model_dump(by_alias=True, exclude_defaults=True, mode="json"),
                           "secretKeys": []})
    code = (
        "import json, sys\n"
        "from slm_deploy.paths import project_root\n"
        "from slm_deploy.program_gate import run\n"
        f"rc = run('staging', json.loads({payload!r}), project_root())\n"
        "print('RC', rc, 'PULUMI', 'pulumi' in sys.modules, 'CHECKOV', any(m.startswith('checkov') for m in sys.modules))\n"
    )
    env = {**os.environ, "SLM_DEPLOY_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    assert first.stdout.strip().endswith("RC 0 PULUMI True CHECKOV False")  # synthesized; checkov in the worker only
    assert second.stdout.strip().endswith("RC 0 PULUMI False CHECKOV False")  # cached: no synth at all
    changed = payload.replace('"slm-staging"', '"slm-staging-2"')
    third = subprocess.run([sys.executable, "-c", code.replace(payload, changed)], capture_output=True, text=True,
                           cwd=REPO, env=env, check=True)
    assert third.stdout.strip().endswith("RC 0 PULUMI True CHECKOV False")  # a config change is a miss
