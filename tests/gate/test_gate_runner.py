"""The gate runner on good and bad build dirs: checkov built-ins + ours, schemas, compose, manifest set."""
from __future__ import annotations

import copy

import yaml

from gate_helpers import PLAIN_DEPLOYMENT, REPO, copy_build, ids, write_build
from slm_deploy.gate import run_gate


def test_reference_stacks_gate_clean(built):
    """Every stack in stacks/ passes its gate with the reviewed waiver file, zero unwaived failures."""
    from stacks.loader import list_stacks

    stacks = list_stacks(REPO)
    assert stacks
    for stack in stacks:
        build = built(stack)
        assert build.gate.ok, (stack, [(f.check_id, f.resource, f.message) for f in build.gate.failed])
        assert not build.gate.self_waivers and not build.gate.expired_waivers
        assert (build.out_dir / "gate" / "report.sarif").exists()


def test_staging_runs_builtin_and_slm_checks(staging_build):
    result = run_gate(staging_build, "staging", use_cache=False)
    ran = ids(result.passed) | ids(result.failed) | {w.finding.check_id for w in result.waived}
    assert {"CKV_K8S_20", "CKV_K8S_43", "CKV2_K8S_6", "K8S_SCHEMA", "CKV_SLM_001", "CKV_SLM_008"} <= ran
    # the full catalog is recorded: every built-in kubernetes and dockerfile check, and ours
    assert len([c for c in result.checks if c.startswith(("CKV_K8S_", "CKV2_K8S_"))]) >= 110
    assert len([c for c in result.checks if c.startswith(("CKV_DOCKER_", "CKV2_DOCKER_"))]) >= 20
    assert {f"CKV_SLM_{n:03d}" for n in range(1, 20)} <= set(result.checks)


def test_plain_deployment_fails_builtins(tmp_path):
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    result = run_gate(build, "t", use_cache=False)
    assert not result.ok
    failed = ids(result.failed)
    # probes, limits, privilege escalation, root, digest, NetworkPolicy, SA token ...
    assert {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_43", "CKV2_K8S_6"} <= failed
    f = next(f for f in result.failed if f.check_id == "CKV_K8S_43")
    assert (f.resource, f.kind, f.namespace, f.name) == ("Deployment.demo.plain", "Deployment", "demo", "plain")
    assert f.file == "manifests/demo.deployment.plain.yaml"


def test_schema_typo_fails_k8s_schema(tmp_path):
    bad = copy.deepcopy(PLAIN_DEPLOYMENT)
    bad["spec"]["replica"] = 2  # typo: strict schemas reject unknown fields
    result = run_gate(write_build(tmp_path / "b", [bad]), "t", use_cache=False)
    schema = [f for f in result.failed if f.check_id == "K8S_SCHEMA"]
    assert schema and "replica" in schema[0].message


def test_slm_check_failure_on_staging_variant(staging_build, tmp_path):
    """A broken variant of the real stack: the vLLM revision unpinned is caught by CKV_SLM_003."""
    build = copy_build(staging_build, tmp_path / "b")
    path = next(p for p in (build / "manifests").glob("*.deployment.*.yaml") if "--revision" in p.read_text())
    obj = yaml.safe_load(path.read_text())
    for c in obj["spec"]["template"]["spec"]["containers"] + obj["spec"]["template"]["spec"].get("initContainers", []):
        for key in ("args", "command"):
            if "--revision" in (c.get(key) or []):
                i = c[key].index("--revision")
                c[key][i + 1] = "main"
    path.write_text(yaml.safe_dump(obj))
    result = run_gate(build, "staging", use_cache=False)
    assert "CKV_SLM_003" in ids(result.failed)


def test_dockerfile_builtins_run(tmp_path):
    build = write_build(tmp_path / "b", files={"app/Dockerfile": "FROM python:3.12-slim\nRUN pip install x\n"})
    result = run_gate(build, "t", use_cache=False)
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3"} <= ids(result.failed)
    f = next(f for f in result.failed if f.check_id == "CKV_DOCKER_3")
    assert (f.kind, f.name, f.resource) == ("Dockerfile", "files/app/Dockerfile", "Dockerfile.files/app/Dockerfile")


def test_compose_checks_run(tmp_path):
    compose = yaml.safe_dump({"name": "t", "services": {"ollama": {
        "image": "ollama/ollama:0.6.8", "privileged": True, "network_mode": "host"}}})
    result = run_gate(write_build(tmp_path / "b", compose=compose), "t", use_cache=False)
    failed = {(f.check_id, f.resource) for f in result.failed}
    assert ("CKV_SLM_014", "service.ollama") in failed  # privileged
    assert ("CKV_SLM_015", "service.ollama") in failed  # host network
    assert ("CKV_SLM_011", "service.ollama") in failed  # no digest


def test_gate_command_exit_codes(tmp_path, staging_build):
    from typer.testing import CliRunner

    from slm_deploy.cli import app

    bad = write_build(tmp_path / "bad", [PLAIN_DEPLOYMENT])
    runner = CliRunner()
    assert runner.invoke(app, ["gate", "t", "--out", str(bad)]).exit_code == 1
    assert runner.invoke(app, ["gate", "staging", "--out", str(staging_build)]).exit_code == 0
    assert runner.invoke(app, ["gate", "t", "--out", str(tmp_path / "missing")]).exit_code == 2
