"""A secret the stack needs but does not set (a gated model's hfToken, issue #16): the offline path stands in a
placeholder and says what the real engine needs; the real engine (the Pulumi program) still refuses."""
from __future__ import annotations

import json

import pytest

from slm_deploy.synth import SynthError, synthesize
from stacks.errors import MissingSecretError
from stacks.loader import load_stack, runtime_config, secret_placeholder, secret_setting_lines
from stacks.program import main
from stacks.schema import PROJECT
from tests.conftest import write_stack

GATED = "config:\n  slm-deploy:namespace: slm-g\n  slm-deploy:vllm:\n    - name: gem\n      model: gemma-3-4b-it\n      gpu: l4\n"


def test_the_real_engine_load_refuses_a_gated_model_without_its_token(scratch_project):
    write_stack(scratch_project, "g", GATED)
    with pytest.raises(MissingSecretError) as info:
        load_stack("g", scratch_project)
    assert info.value.secrets == ["hfToken"]
    [line] = [str(p) for p in info.value.problems]
    assert line.startswith("stacks/Pulumi.g.yaml:5: slm-deploy:vllm[0].model = 'gemma-3-4b-it': gemma-3-4b-it is gated")
    assert line.endswith("pulumi config set --secret hfToken --stack g")


def test_offline_the_missing_token_is_a_placeholder_secret_and_reported(scratch_project):
    write_stack(scratch_project, "g", GATED)
    loaded = load_stack("g", scratch_project, offline=True)
    assert loaded.placeholder_keys == ["hfToken"]
    assert "hfToken" in loaded.secret_keys and loaded.values["hfToken"] == secret_placeholder("hfToken")
    [problem] = loaded.placeholder_secrets
    assert problem.key == "slm-deploy:vllm[0].model" and problem.line == 5
    config, secret_keys = runtime_config(loaded)
    assert f"{PROJECT}:hfToken" in secret_keys  # the program sees it as a secret, never as plain text


def test_a_stack_that_sets_the_token_has_no_placeholder(scratch_project):
    write_stack(scratch_project, "g", GATED + "  slm-deploy:hfToken:\n    secure: v1:AAAA\n")
    loaded = load_stack("g", scratch_project, offline=True)
    assert loaded.placeholder_keys == [] and loaded.placeholder_secrets == []


def test_the_setting_lines_show_the_command_and_the_stack_file_form():
    lines = secret_setting_lines("g", ["hfToken"])
    assert lines[0].strip().startswith("pulumi config set --secret hfToken --stack g")
    form = "\n".join(lines[2:])
    assert "config:\n      slm-deploy:hfToken:\n        secure: <ciphertext>" in form
    assert "stacks/Pulumi.g.yaml" in lines[1]


def test_the_pulumi_program_still_refuses_without_the_token_and_registers_nothing(scratch_project):
    """Under the real engine the program reads Pulumi config: no hfToken there is an error before the gate."""
    write_stack(scratch_project, "g", GATED)
    offline = load_stack("g", scratch_project, offline=True)
    config, _ = runtime_config(offline)
    del config[f"{PROJECT}:hfToken"]  # what `pulumi preview` passes when the secret was never set
    gate_calls = []
    with pytest.raises(SynthError, match=r"gemma-3-4b-it is gated on Hugging Face: its download needs the hfToken "
                                         r"secret: pulumi config set --secret hfToken --stack g"):
        synthesize(lambda: main(gate=lambda *a: gate_calls.append(a)), project=PROJECT, stack="g", config=config,
                   secret_keys=[])
    assert gate_calls == []


def test_offline_synth_renders_the_placeholder_as_a_secret(scratch_project):
    write_stack(scratch_project, "g", GATED)
    loaded = load_stack("g", scratch_project, offline=True)
    config, secret_keys = runtime_config(loaded)
    result = synthesize(lambda: main(config=loaded.config), project=PROJECT, stack="g", config=config,
                        secret_keys=secret_keys)
    secrets = [r for r in result.resources if r.type == "kubernetes:core/v1:Secret"]
    assert any("hf" in r.name for r in secrets), [r.name for r in secrets]
    assert "[secret:hfToken]" not in json.dumps([r.inputs for r in result.resources], default=str)
