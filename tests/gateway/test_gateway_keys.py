"""Client keys set with `pulumi config set --secret --path 'clientKeys.<client>' KEY`: typed, located errors,
and the key (or its hash) only ever in the gateway's Secrets."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pulumi
import pytest

import slm_deploy.synth as synth_module
from components.gateway.keys import CONFIG_KEY, MIN_KEY_LENGTH, configured_keys_or_none, parse_client_keys
from slm_deploy.render import render
from slm_deploy.synth import synthesize
from stacks.errors import ConfigError
from stacks.loader import load_stack, runtime_config
from stacks.schema import PROJECT, SECRET_KEYS
from tests.conftest import stack_problems, write_stack

from .test_gateway_component import VLLM

CLIENTS = ("  slm-deploy:gateway:\n    clients:\n"
           "      - {name: chat-app, models: [phi-4-mini-instruct, qwen3-8b], rpm: 60, concurrency: 4}\n"
           "      - {name: batch-jobs, models: [qwen3-8b], rpm: 30, concurrency: 2}\n")
CURRENT, NEXT = "k" * 20 + "Current-Key-0123456789", "n" * 20 + "Next-Key-abcdefghijk"


def test_the_secret_key_is_declared():
    assert CONFIG_KEY in SECRET_KEYS and "--path 'clientKeys.<client>'" in SECRET_KEYS[CONFIG_KEY]


def test_path_form_loads_as_a_secret(scratch_project):
    write_stack(scratch_project, "t", "config:\n" + VLLM + CLIENTS + "  slm-deploy:clientKeys:\n"
                "    chat-app:\n      - secure: v1:AAAA\n      - secure: v1:BBBB\n    batch-jobs:\n      secure: v1:CCCC\n")
    stack = load_stack("t", scratch_project)
    assert CONFIG_KEY in stack.secret_keys
    config, secret_keys = runtime_config(stack)
    assert f"{PROJECT}:{CONFIG_KEY}" in secret_keys and "v1:" not in config[f"{PROJECT}:{CONFIG_KEY}"]


@pytest.mark.parametrize("entry,expected", [
    ("    chat-ap:\n      secure: v1:AAAA\n",
     ":{line}: slm-deploy:clientKeys.chat-ap: not a named client; named clients: chat-app, batch-jobs"),
    ("    chat-app: sk-plaintext-value-0123456789abcdef\n",
     ":{line}: slm-deploy:clientKeys.chat-app: must be a secret: pulumi config set --secret --path 'clientKeys.chat-app' KEY"),
    ("    chat-app:\n      - secure: v1:AAAA\n      - plain-second-key-0123456789abcdefgh\n",
     ":{line}: slm-deploy:clientKeys.chat-app[1]: must be a secret"),
])
def test_bad_client_keys_are_one_located_line_without_the_value(scratch_project, entry, expected):
    text = "config:\n" + VLLM + CLIENTS + "  slm-deploy:clientKeys:\n" + entry
    [problem] = stack_problems(scratch_project, text)
    line = text.splitlines().index(entry.splitlines()[0]) + 1
    assert problem.startswith("stacks/Pulumi.t.yaml:") and expected.format(line=line) in problem, problem
    assert "plaintext" not in problem and "plain-second" not in problem


def test_client_keys_on_a_stack_without_gateway(scratch_project):
    write_stack(scratch_project, "t", "config:\n  slm-deploy:vllm:\n    - {name: phi4-mini, model: phi-4-mini-instruct, gpu: l4}\n"
                "  slm-deploy:clientKeys:\n    default:\n      secure: v1:AAAA\n")
    with pytest.raises(ConfigError, match="clientKeys.default: not a named client; this stack has no named clients"):
        load_stack("t", scratch_project)


@pytest.mark.parametrize("value,path,what", [
    ("just-a-string", "clientKeys", "must be an object"),
    ({"chat-app": "short"}, "clientKeys.chat-app", f"at least {MIN_KEY_LENGTH} characters"),
    ({"chat-app": [CURRENT, "has space " + "x" * 40]}, "clientKeys.chat-app[1]", "without whitespace"),
    ({"chat-app": [CURRENT, CURRENT]}, "clientKeys.chat-app", "must not repeat a key"),
    ({"chat-app": []}, "clientKeys.chat-app", "at least one key"),
    ({"chat-app": 12345}, "clientKeys.chat-app", "must be a string"),
    ({"nobody": CURRENT}, "clientKeys.nobody", "not a named client; clients: chat-app, batch-jobs"),
])
def test_decrypted_value_is_typed(value, path, what):
    with pytest.raises(ValueError) as info:
        parse_client_keys(value, ["chat-app", "batch-jobs"])
    [(got_path, got_what)] = info.value.args[0]
    assert got_path == path and what in got_what
    assert CURRENT not in got_what and "has space" not in got_what and "short" not in got_what.split(":")[0]


def test_unset_and_offline_placeholders_mean_generated():
    assert configured_keys_or_none(None, ["a"]) == {} and configured_keys_or_none("[secret:clientKeys]", ["a"]) == {}
    assert configured_keys_or_none(json.dumps({"a": CURRENT}), ["a"]) == {"a": [CURRENT]}


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_configured_keys_reach_only_the_gateway_secrets(monkeypatch, tmp_path):
    """The program under the mock engine with a *decrypted* clientKeys (as the CLI passes it): the proxy's
    keys Secret holds both hashes of chat-app, the client Secret its current key, batch-jobs keeps a
    generated key; neither key nor hash appears in any other object, the rendered build or the outputs."""
    from stacks.program import main

    stack = load_stack("prod")
    config, secret_keys = runtime_config(stack)
    config[f"{PROJECT}:{CONFIG_KEY}"] = json.dumps({"chat-app": [CURRENT, NEXT]})
    secret_keys = sorted(set(secret_keys) | {f"{PROJECT}:{CONFIG_KEY}"})
    seen_secrets: dict[str, dict] = {}
    original = synth_module.normalize

    def spy(value, *a, **kw):  # the Secrets' inputs as the engine receives them, before the synth redacts them
        if isinstance(value, dict) and value.get("kind") == "Secret" and isinstance(value.get("metadata"), dict):
            seen_secrets[value["metadata"].get("name")] = copy.deepcopy(value)
        return original(value, *a, **kw)

    monkeypatch.setattr(synth_module, "normalize", spy)
    result = synthesize(lambda: main(gate=None, config=stack.config), project=PROJECT, stack="prod", config=config,
                        secret_keys=secret_keys)

    def plain(value) -> str:
        return json.dumps(value, default=str)

    keys_file = plain(seen_secrets["gateway-keys"]["stringData"])
    assert f"chat-app {_sha(CURRENT)}" in keys_file and f"chat-app {_sha(NEXT)}" in keys_file
    assert "batch-jobs " in keys_file
    assert CURRENT in plain(seen_secrets["gateway-client-chat-app"]["stringData"])
    assert NEXT not in plain(seen_secrets["gateway-client-chat-app"]["stringData"])  # only the current key is handed out
    assert CURRENT not in plain(seen_secrets["gateway-client-batch-jobs"]["stringData"])

    everything = plain([r.inputs for r in result.resources]) + plain(result.outputs if hasattr(result, "outputs") else {})
    for material in (CURRENT, NEXT, _sha(CURRENT), _sha(NEXT)):
        assert material not in everything
    out = tmp_path / "build"
    render(result, out)
    for path in Path(out).rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(m in text for m in (CURRENT, NEXT, _sha(CURRENT), _sha(NEXT))), path


def test_real_run_checks_the_decrypted_value(monkeypatch):
    """In a real run (decrypted config), a bad clientKeys is a located config error naming path, not value."""
    from stacks.program import _check_client_keys

    stack = load_stack("prod")
    monkeypatch.setattr(pulumi.runtime, "get_config",
                        lambda key: json.dumps({"chat-app": "tooshort-secret"}) if key == f"{PROJECT}:{CONFIG_KEY}" else None)
    with pytest.raises(ConfigError) as info:
        _check_client_keys(stack.config, "stacks/Pulumi.prod.yaml")
    message = str(info.value)
    assert message.startswith("stacks/Pulumi.prod.yaml: slm-deploy:clientKeys.chat-app: must be at least 32 characters")
    assert "tooshort-secret" not in message
