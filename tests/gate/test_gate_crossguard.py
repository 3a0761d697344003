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
            "capabilities": {"drops": ["ALL"]}, "memory": 8192,
            "ports": [{"internal": 11434, "external": 11434, "ip": "127.0.0.1"}]}
    base.update(props)
    return base


@pytest.mark.parametrize("check_id,bad", [
    ("CKV_SLM_014", {"privileged": True}),
    ("CKV_SLM_015", {"networkMode": "host"}),
    ("CKV_SLM_016", {"capabilities": {}}),
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


def test_pack_main_declares_every_rule():
    text = (REPO / "policies" / "crossguard" / "__main__.py").read_text()
    assert "PolicyPack(" in text and "resource_policies_spec()" in text and "validate_manifest_set" in text
    assert (REPO / "policies" / "crossguard" / "PulumiPolicy.yaml").read_text().startswith("runtime: python")
    names = [slm_rules.policy_name(m) for m, _ in slm_rules.resource_policies_spec()]
    assert len(names) == len(set(names)) >= 17
