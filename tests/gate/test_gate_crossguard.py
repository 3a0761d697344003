"""CrossGuard pack: the SLM rules' validate functions, called directly with ResourceValidationArgs."""
from __future__ import annotations

import pytest
import yaml
from pulumi_policy import PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.policy import PolicyResource

from gate_helpers import REPO
from policies.crossguard import slm_rules

FIXTURES = REPO / "tests" / "policies" / "fixtures"
K8S_IDS = [f"CKV_SLM_00{i}" for i in range(1, 8)]


def _type(obj: dict) -> str:
    group_version = obj["apiVersion"] if "/" in obj["apiVersion"] else f"core/{obj['apiVersion']}"
    return f"kubernetes:{group_version}:{obj['kind']}"


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=None, additional_secret_outputs=[])


def _args(resource_type: str, props: dict, name: str = "r") -> ResourceValidationArgs:
    props = {k: v for k, v in props.items() if k not in ("apiVersion", "kind")}  # the engine's inputs have no kind
    return ResourceValidationArgs(resource_type, props, f"urn:pulumi:t::p::{resource_type}::{name}", name, _opts(), None)


def _violations(check_id: str, resource_type: str, props: dict) -> list[str]:
    validate = dict((m.id, v) for m, v in slm_rules.resource_policies_spec())[check_id]
    seen: list[str] = []
    validate(_args(resource_type, props), lambda message, urn=None: seen.append(message))
    return seen


def _docs(check_id: str, outcome: str) -> list[dict]:
    return [d for p in sorted((FIXTURES / check_id / outcome).glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


@pytest.mark.parametrize("check_id", K8S_IDS)
def test_k8s_rules_flag_fail_fixtures_and_pass_pass_fixtures(check_id):
    kinds = dict((m.id, m.kinds) for m, _ in slm_rules.resource_policies_spec())[check_id]
    failing = [d for d in _docs(check_id, "fail") if _violations(check_id, _type(d), d)]
    passing = [d for d in _docs(check_id, "pass") if _violations(check_id, _type(d), d)]
    assert failing, f"{check_id}: no violation on its fail fixtures"
    assert not passing, [d["metadata"]["name"] for d in passing]
    assert all(d["kind"] in kinds for d in failing)
    assert _violations(check_id, _type(failing[0]), failing[0])[0].startswith(check_id)


def test_props_proxy_mapping_is_accepted():
    from types import MappingProxyType

    doc = _docs("CKV_SLM_006", "fail")[0]
    props = MappingProxyType({k: v for k, v in doc.items() if k not in ("apiVersion", "kind")})
    assert _violations("CKV_SLM_006", _type(doc), props)


def _container(**props) -> dict:
    base = {"name": "ollama", "image": "ollama/ollama:0.6.8@sha256:" + "c" * 64, "readOnly": True,
            "capabilities": {"drops": ["ALL"]}, "memory": 8192, "user": "10001:10001",
            "ports": [{"internal": 11434, "external": 11434, "ip": "127.0.0.1"}]}
    base.update(props)
    return base


@pytest.mark.parametrize("check_id,bad", [
    ("CKV_SLM_014", {"privileged": True}),
    ("CKV_SLM_015", {"networkMode": "host"}),
    ("CKV_SLM_016", {"capabilities": {}}),
    ("CKV_SLM_016", {"capabilities": {"drops": ["ALL"], "adds": ["SYS_ADMIN"]}}),
    ("CKV_SLM_020", {"user": None}),
    ("CKV_SLM_020", {"user": "0:0"}),
    ("CKV_SLM_017", {"readOnly": False}),
    ("CKV_SLM_018", {"memory": 0}),
    ("CKV_SLM_010", {"ports": [{"internal": 11434, "external": 11434, "ip": "0.0.0.0"}]}),
    ("CKV_SLM_011", {"image": "ollama/ollama:latest"}),
])
def test_compose_rules_on_docker_containers(check_id, bad):
    assert not _violations(check_id, "docker:index/container:Container", _container())
    assert _violations(check_id, "docker:index/container:Container", _container(**bad))


def test_compose_rules_ignore_other_types():
    assert not _violations("CKV_SLM_014", "kubernetes:apps/v1:Deployment", {"privileged": True})


def _stack(docs: list[dict]) -> StackValidationArgs:
    resources = [
        PolicyResource(_type(d), {k: v for k, v in d.items() if k not in ("apiVersion", "kind")},
                       f"urn:pulumi:t::p::{_type(d)}::{d['metadata']['name']}", d["metadata"]["name"], _opts(),
                       None, None, [], {})
        for d in docs
    ]
    return StackValidationArgs(resources)


@pytest.mark.parametrize("check_id", ["CKV_SLM_008", "CKV_SLM_009"])
def test_manifest_set_stack_policy(check_id):
    def run(outcome):
        seen: list[str] = []
        slm_rules.validate_manifest_set(_stack(_docs(check_id, outcome)), lambda m, urn=None: seen.append(m))
        return [m for m in seen if m.startswith(check_id)]

    assert run("fail")
    assert not run("pass")


_IMPORT_PACK = r"""
import importlib.util, json, sys
from pathlib import Path

repo = Path(sys.argv[1]).resolve()
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != repo]  # keep the venv, drop the repo
import pulumi_policy

captured = {}


class CapturingPack:  # stands in for PolicyPack, whose constructor would start the gRPC server
    def __init__(self, name, policies, enforcement_level=None, **kwargs):
        captured["name"] = name
        captured["policies"] = [{"name": p.name, "description": p.description,
                                 "stack": isinstance(p, pulumi_policy.StackValidationPolicy)} for p in policies]


pulumi_policy.PolicyPack = CapturingPack
spec = importlib.util.spec_from_file_location("slm_pack_main", Path.cwd() / "__main__.py")
spec.loader.exec_module(importlib.util.module_from_spec(spec))
import policies
captured["policies_package"] = str(Path(policies.__file__).resolve())
captured["checkov_imported"] = any(m == "checkov" or m.startswith("checkov.") for m in sys.modules)
print(json.dumps(captured))
"""


def _import_pack(pack_dir) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    out = subprocess.run([sys.executable, "-I", "-B", "-c", _IMPORT_PACK, str(REPO)], cwd=pack_dir, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _assert_every_rule(captured: dict) -> None:
    from policies.registry import list_slm_checks

    assert captured["name"] == "slm-deploy" and not captured["checkov_imported"]
    resource = {p["name"] for p in captured["policies"] if not p["stack"]}
    stack = [p for p in captured["policies"] if p["stack"]]
    assert len(resource) == len([p for p in captured["policies"] if not p["stack"]]), "duplicate policy names"
    assert len(stack) == 1 and stack[0]["name"] == "slm-manifest-set"
    for meta in list_slm_checks():
        if meta.framework == "manifest-set":
            assert meta.id in stack[0]["description"], meta.id
        else:
            assert slm_rules.policy_name(meta) in resource, meta.id
    assert len(resource) >= 18


@pytest.fixture(scope="module")
def assembled_pack(tmp_path_factory):
    from slm_deploy.gate.pack import build_pack

    out = tmp_path_factory.mktemp("pack") / "slm-pack"
    build_pack(out)
    return out


def test_assembled_pack_is_self_contained(assembled_pack):
    for name in ("PulumiPolicy.yaml", "__main__.py", "requirements.txt", "slm_rules.py", "README.md"):
        assert (assembled_pack / name).is_file(), name
    assert (assembled_pack / "PulumiPolicy.yaml").read_text().startswith("runtime: python")
    assert (assembled_pack / "policies" / "rules" / "_types.py").is_file()
    assert (assembled_pack / "policies" / "registry.py").is_file()
    assert not (assembled_pack / "policies" / "checks").exists()  # the checkov adapters stay out
    assert "pulumi policy publish" in (assembled_pack / "README.md").read_text()


def test_assembled_pack_imports_without_the_repo(assembled_pack):
    captured = _import_pack(assembled_pack)
    _assert_every_rule(captured)
    assert captured["policies_package"].startswith(str(assembled_pack.resolve())), captured["policies_package"]


def test_repo_pack_main_declares_every_rule():
    """The in-repo pack (`pulumi preview --policy-pack policies/crossguard`) imports the rules from the repo."""
    captured = _import_pack(REPO / "policies" / "crossguard")
    _assert_every_rule(captured)
    assert captured["policies_package"] == str((REPO / "policies" / "__init__.py").resolve())


def test_policies_pack_command(tmp_path):
    from typer.testing import CliRunner

    from slm_deploy.cli import app

    result = CliRunner().invoke(app, ["policies", "--pack", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "policies" / "compose" / "checks" / "non_root_user.py").is_file()
    (tmp_path / "p" / "policies" / "rules" / "stale.py").write_text("# from an older pack\n")
    assert CliRunner().invoke(app, ["policies", "--pack", str(tmp_path / "p")]).exit_code == 0
    assert not (tmp_path / "p" / "policies" / "rules" / "stale.py").exists()  # the vendored copy is replaced
    both = CliRunner().invoke(app, ["policies", "--json", "--pack", str(tmp_path / "q")])
    assert both.exit_code == 2 and not (tmp_path / "q").exists()
