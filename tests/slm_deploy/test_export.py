"""`slm-deploy export STACK --format kustomize`: the gate runs first; the kustomization lists exactly the
gated manifests (Secrets left out and listed for the team), byte for byte."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.run_cli import run_cli


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in this process (tests/run_cli.py; exit codes and messages as a shell sees them are tested in
    tests/slm_deploy/test_cli.py)."""
    return run_cli(*args, env={"SLM_DEPLOY_NO_CACHE": "1", **(env or {})}, cwd=REPO)


def test_export_kustomize_is_the_gated_manifests(tmp_path: Path):
    out = tmp_path / "export"
    proc = _cli("export", "staging", "--format", "kustomize", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Gate passed for stack staging" in proc.stderr  # the gate ran first
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization" and set(kustomization) == {"apiVersion", "kind", "resources"}
    build = REPO / "tests" / "golden" / "staging" / "manifests"  # the rendered stack, as test_golden pins it
    exported = sorted(p.name for p in out.glob("*.yaml") if p.name != "kustomization.yaml")
    assert kustomization["resources"] == exported
    secrets = [p.name for p in build.glob("*.yaml") if yaml.safe_load(p.read_text()).get("kind") == "Secret"]
    assert secrets and not set(secrets) & set(exported)
    assert sorted(set(p.name for p in build.glob("*.yaml")) - set(secrets)) == exported
    for name in exported:
        assert (out / name).read_bytes() == (build / name).read_bytes()
    readme = (out / "README.md").read_text()
    assert all(f"`slm-staging/{yaml.safe_load((build / s).read_text())['metadata']['name']}`" in readme
               for s in secrets)


def test_export_refuses_when_the_gate_fails_and_writes_nothing(tmp_path: Path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(yaml.safe_dump({"waivers": [{
        "id": "W-OLD", "check": "CKV_K8S_43", "resource": "Deployment/phi4-mini", "stacks": ["staging"],
        "reason": "expired on purpose for this test", "approver": "reviewer@example.com", "expires": "2024-01-31"}]}))
    out = tmp_path / "export"
    proc = _cli("export", "staging", "--format", "kustomize", "--out", str(out),
                env={"SLM_DEPLOY_WAIVERS": str(waivers)})
    assert proc.returncode == 1, proc.stderr
    assert "no export written" in proc.stderr and not out.exists()


def test_export_unknown_format_and_docker_stack_are_bad_input(tmp_path: Path):
    proc = _cli("export", "staging", "--format", "helm", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and "allowed: kustomize" in proc.stderr and "Traceback" not in proc.stderr
    proc = _cli("export", "dev", "--format", "kustomize", "--out", str(tmp_path / "y"))
    assert proc.returncode == 2 and "renders no Kubernetes manifests" in proc.stderr
    assert not (tmp_path / "y").exists()


def test_export_never_replaces_a_directory_it_did_not_write(tmp_path: Path):
    from slm_deploy.export import ExportError, export_kustomize

    build = tmp_path / "b"
    (build / "manifests").mkdir(parents=True)
    (build / "manifests" / "demo.configmap.x.yaml").write_text(json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "demo"}}))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    try:
        export_kustomize(build, precious, "t", "0" * 16)
    except ExportError as exc:
        assert "not a previous export" in str(exc)
    else:
        raise AssertionError("replaced a foreign directory")
    assert (precious / "notes.txt").read_text() == "keep me"
    out = export_kustomize(build, tmp_path / "e", "t", "0" * 16)
    assert export_kustomize(build, out, "t", "1" * 16) == out  # its own previous export is replaced
