"""The Pulumi program gates itself: under a real preview a failing gate stops it before any registration."""

from __future__ import annotations

import pulumi
import pytest

from stacks.loader import load_stack, runtime_config
from slm_deploy.program_gate import require_gate
from slm_deploy.synth import SynthError, synthesize
from stacks.program import main
from stacks.schema import PROJECT


@pytest.fixture(autouse=True)
def _program_build_root(tmp_path, monkeypatch):
    """The program's gate renders under tmp_path, not the checkout's build/."""
    monkeypatch.setenv("SLM_DEPLOY_BUILD_ROOT", str(tmp_path / "build-root"))


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
    monkeypatch.setenv("SLM_DEPLOY_BUILD_ROOT", str(tmp_path / "build"))
    recorded: list = []
    with pytest.raises(SynthError, match=r"(?s)gate failed for stack 'staging'; nothing was registered.*SLM_GATE_EXPIRED_WAIVER.*W-TEST-EXPIRED"):
        _synth_with_gate("staging", require_gate, recorded)
    assert recorded == []


def test_real_gate_passes_for_a_reference_stack_and_program_proceeds(tmp_path, monkeypatch):
    monkeypatch.setenv("SLM_DEPLOY_BUILD_ROOT", str(tmp_path / "build"))
    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    result = _synth_with_gate("staging", require_gate, [])
    assert any(r.type == "kubernetes:core/v1:Namespace" for r in result.resources)
    assert (tmp_path / "build" / "staging" / "gate" / "verdict.json").is_file(), "the gate renders under the test's tmp_path"


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
    env = {**os.environ, "SLM_DEPLOY_CACHE_DIR": str(tmp_path / "cache"), "SLM_DEPLOY_BUILD_ROOT": str(tmp_path / "build")}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    assert first.stdout.strip().endswith("RC 0 PULUMI True CHECKOV False")  # synthesized; checkov in the worker only
    assert second.stdout.strip().endswith("RC 0 PULUMI False CHECKOV False")  # cached: no synth at all
    changed = payload.replace('"slm-staging"', '"slm-staging-2"')
    third = subprocess.run([sys.executable, "-c", code.replace(payload, changed)], capture_output=True, text=True,
                           cwd=REPO, env=env, check=True)
    assert third.stdout.strip().endswith("RC 0 PULUMI True CHECKOV False")  # a config change is a miss


# --------------------------------------------------------------------------- issue #10, item 5

_NULL_LABELS = """config:
  slm-deploy:target: kubernetes
  slm-deploy:namespace: slm-nl
  slm-deploy:cluster:
    prometheusOperator: true
  slm-deploy:vllm:
    - name: phi4-mini
      model: phi-4-mini-instruct
      gpu: l4
      prometheusNamespaceLabels: null
  slm-deploy:monitoring:
    mode: operator
"""


def _inputs(result):
    return [(r.type, r.name, r.inputs) for r in result.resources]


def _program_and_gate_views(stack: str, root):
    """What the program registers, and what the gate child judges, from the one payload the program sends."""
    from slm_deploy.pipeline import synth_stack
    from slm_deploy.program_gate import loaded_from_payload

    loaded = load_stack(stack, root)
    config, secret_keys = runtime_config(loaded)
    sent = {}

    def spy(name, values, keys):
        sent.update(values=values, secretKeys=keys)

    program = synthesize(lambda: main(gate=spy), project=PROJECT, stack=stack, config=config, secret_keys=secret_keys)
    judged = synth_stack(loaded_from_payload(stack, sent, root))
    return loaded, program, judged


@pytest.mark.parametrize("stack", ["dev", "edge", "cpu", "staging", "prod", "null-labels"])
def test_program_registers_exactly_the_inputs_the_gate_judged(stack, scratch_project):
    from tests.conftest import REPO, write_stack

    root = REPO
    if stack == "null-labels":
        write_stack(scratch_project, stack, _NULL_LABELS)
        root = scratch_project
    loaded, program, judged = _program_and_gate_views(stack, root)
    assert program.resources and _inputs(program) == _inputs(judged)
    if stack == "null-labels":
        # The attack this closes: the old payload (a re-dump with exclude_defaults) lost the explicit null,
        # so the gate judged another NetworkPolicy than the program would apply.
        from slm_deploy.pipeline import synth_stack
        from slm_deploy.program_gate import loaded_from_payload

        old = loaded.config.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        drifted = synth_stack(loaded_from_payload(stack, {"values": old, "secretKeys": []}, root))
        assert _inputs(drifted) != _inputs(program)


def test_program_gate_key_covers_installed_tool_versions(monkeypatch):
    from slm_deploy.gate import cache
    from slm_deploy.program_gate import input_key
    from tests.conftest import REPO

    payload = {"values": {"namespace": "slm-x"}, "secretKeys": []}
    before = input_key("staging", payload, REPO)
    real = cache.tool_versions
    monkeypatch.setattr(cache, "tool_versions", lambda: real() | {"checkov": "0.0.1"})
    assert input_key("staging", payload, REPO) != before
    monkeypatch.setattr(cache, "tool_versions", lambda: real() | {"kubernetes-validate": "0.0.1"})
    assert input_key("staging", payload, REPO) != before


def test_tool_versions_name_what_is_installed():
    from importlib import metadata

    from slm_deploy.gate.cache import tool_versions

    found = tool_versions()
    assert found["checkov"] == metadata.version("checkov")
    assert found["kubernetes-validate"] == metadata.version("kubernetes-validate")
    assert found["promtool"] != "missing"  # ./dev test installs it


def test_gate_verdict_key_covers_installed_tool_versions(monkeypatch, tmp_path):
    from datetime import date

    from slm_deploy.gate import cache

    (tmp_path / "b").mkdir()
    key = lambda: cache.cache_key(tmp_path / "b", "t", tmp_path / "p", tmp_path / "w.yaml", date(2030, 1, 1))  # noqa: E731
    before = key()
    real = cache.tool_versions
    monkeypatch.setattr(cache, "tool_versions", lambda: real() | {"checkov": "0.0.1"})
    assert key() != before


_HANGS = "import time; time.sleep(300)\n"
_LEAVES_A_WORKER = """
import os, sys, time
pid = os.fork()
if pid == 0:            # the 'checkov worker': inherits stdout/stderr and outlives its parent
    time.sleep(300)
    os._exit(0)
open(sys.argv[1], "w").write(str(pid))
print("FAILED CKV_K8S_1 Deployment.x.y (manifests/y.yaml): the child died")
sys.exit(1)
"""


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (killed, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_hung_gate_child_is_killed_and_fails_closed(tmp_path, monkeypatch):
    import sys
    import time

    from slm_deploy import program_gate

    script = tmp_path / "hang.py"
    script.write_text(_HANGS)
    monkeypatch.setattr(program_gate, "_child_command", lambda stack: [sys.executable, str(script)])
    monkeypatch.setenv("SLM_DEPLOY_GATE_TIMEOUT", "1.5")
    started = time.monotonic()
    with pytest.raises(pulumi.RunError, match=r"did not finish within 1.5 s; its process group was killed and nothing was registered"):
        require_gate("staging", {}, [])
    assert time.monotonic() - started < 30


def test_child_that_dies_leaving_its_worker_on_the_pipes_does_not_hang(tmp_path, monkeypatch):
    """The reported hang: the child exits, its forked worker keeps stdout open. The verdict still comes
    back at once (not after the timeout) and the leftover is killed with the group."""
    import sys
    import time

    from slm_deploy import program_gate

    script, pid_file = tmp_path / "dies.py", tmp_path / "worker.pid"
    script.write_text(_LEAVES_A_WORKER)
    monkeypatch.setattr(program_gate, "_child_command", lambda stack: [sys.executable, str(script), str(pid_file)])
    monkeypatch.setenv("SLM_DEPLOY_GATE_TIMEOUT", "120")
    started = time.monotonic()
    with pytest.raises(pulumi.RunError, match=r"(?s)gate failed for stack 'staging'.*FAILED CKV_K8S_1"):
        require_gate("staging", {}, [])
    assert time.monotonic() - started < 30
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_bad_gate_timeout_is_refused(monkeypatch, value):
    monkeypatch.setenv("SLM_DEPLOY_GATE_TIMEOUT", value)
    with pytest.raises(pulumi.RunError, match="SLM_DEPLOY_GATE_TIMEOUT"):
        require_gate("staging", {}, [])
