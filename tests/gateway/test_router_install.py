"""The router install Job (components/gateway/install.py): the gateway's only pod with internet egress.

Under the mock runtime: the Job and its NetworkPolicy, the volume keyed by the requirements, the Deployment's
dependency on both, the read-only mount, the gateway pods' egress (DNS, the vLLM pods, the API server only) and
their placement for each access mode. For real: the Job's exact script, run by /bin/sh with real pip on a wheelhouse
the test builds (pip's hash check, the import check, the staging directory, a re-run on a filled volume)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.context import ClusterCapabilities, StackContext
from components.gateway import GatewayArgs, ModelGateway
from components.gateway.install import ROUTER_MOUNT, ROUTER_SITE, install_argv, install_key
from components.gateway.proxy import ROUTER_REQUIREMENTS
from components.hardening import NON_PUBLIC_CIDRS, PRIVATE_CIDRS
from slm_deploy.synth import synthesize

JOB = "kubernetes:batch/v1:Job"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
DEPLOY = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
KEY = install_key(ROUTER_REQUIREMENTS.read_text())


def _synth(cluster: dict):
    def program():
        ctx = StackContext(namespace="ns", cluster=ClusterCapabilities.model_validate(cluster))
        ModelGateway("gateway", GatewayArgs(), ctx, models=["m1", "m2"])
    return synthesize(program, project="slm-deploy", stack="t")


@pytest.fixture(scope="module")
def rwx():
    return _synth({"rwxStorageClass": "nfs", "apiServerCidrs": ["10.96.0.1/32"]})


@pytest.fixture(scope="module")
def rwo():
    return _synth({})


def _one(res, typ: str, name: str):
    found = [r for r in res.resources if r.type == typ and r.name == name]
    assert len(found) == 1, [r.name for r in res.resources if r.type == typ]
    return found[0]


def _egress(policy) -> list[tuple[list, list[int]]]:
    return [(rule.get("to"), [p["port"] for p in rule["ports"]]) for rule in policy.inputs["spec"]["egress"]]


def test_the_deployment_waits_for_the_install_job_and_mounts_its_volume_read_only(rwx):
    deploy = _one(rwx, DEPLOY, "gateway")
    assert f"{JOB}::gateway-router-install-{KEY}" in deploy.depends_on
    assert f"{PVC}::gateway-router-{KEY}" in deploy.depends_on
    pod = deploy.inputs["spec"]["template"]["spec"]
    assert "initContainers" not in pod, "nothing in the gateway pod downloads"
    [volume] = [v for v in pod["volumes"] if v["name"] == "router"]
    assert volume["persistentVolumeClaim"] == {"claimName": f"gateway-router-{KEY}", "readOnly": True}
    router = next(c for c in pod["containers"] if c["name"] == "router")
    [mount] = [m for m in router["volumeMounts"] if m["name"] == "router"]
    assert mount == {"name": "router", "mountPath": ROUTER_MOUNT, "readOnly": True}
    assert {"name": "PYTHONPATH", "value": ROUTER_SITE} in router["env"]
    for c in pod["containers"]:
        assert c["name"] == "router" or all(m["name"] != "router" for m in c.get("volumeMounts", []))


def test_the_install_job_is_the_only_gateway_pod_with_internet_egress(rwx):
    job = _one(rwx, JOB, f"gateway-router-install-{KEY}")
    pod = job.inputs["spec"]["template"]["spec"]
    [step] = pod["containers"]
    assert step["command"] + step["args"] == install_argv(KEY)
    assert "--require-hashes" in step["args"][1] and "--only-binary :all:" in step["args"][1]
    assert f"{PVC}::gateway-router-{KEY}" in job.depends_on and "kubernetes:core/v1:ConfigMap::gateway-files" in job.depends_on
    assert job.inputs["spec"]["activeDeadlineSeconds"] < 1200
    labels = job.inputs["spec"]["template"]["metadata"]["labels"]
    policy = _one(rwx, NP, f"gateway-router-install-{KEY}")
    assert policy.inputs["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy.inputs["spec"]["ingress"] == []
    dns, https = _egress(policy)
    assert dns[1] == [53, 53]
    assert https == ([{"ipBlock": {"cidr": "0.0.0.0/0", "except": [*NON_PUBLIC_CIDRS, "10.96.0.1/32"]}}], [443])
    # The gateway's own policy must not select the Job's pod (and the Job's must not select the gateway's).
    gateway_selector = _one(rwx, NP, "gateway").inputs["spec"]["podSelector"]["matchLabels"]
    assert not gateway_selector.items() <= labels.items()


def test_gateway_pods_reach_dns_the_model_servers_and_the_declared_api_server_only(rwx, rwo):
    dns, vllm, api = _egress(_one(rwx, NP, "gateway"))
    assert dns[1] == [53, 53]
    assert vllm == ([{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm",
                                                      "app.kubernetes.io/component": "model-server",
                                                      "app.kubernetes.io/part-of": "slm-deploy"}}}], [8000])
    assert api == ([{"ipBlock": {"cidr": "10.96.0.1/32"}}], [443, 6443])
    *_, undeclared = _egress(_one(rwo, NP, "gateway"))
    assert undeclared == ([{"ipBlock": {"cidr": c}} for c in PRIVATE_CIDRS], [443, 6443])


def test_access_mode_and_placement(rwx, rwo):
    """RWX: replicas spread over nodes with a PDB. RWO (one node attaches it): replicas together, no PDB."""
    assert _one(rwx, PVC, f"gateway-router-{KEY}").inputs["spec"]["accessModes"] == ["ReadWriteMany"]
    assert _one(rwx, PVC, f"gateway-router-{KEY}").inputs["spec"]["storageClassName"] == "nfs"
    spread = _one(rwx, DEPLOY, "gateway").inputs["spec"]["template"]["spec"]["affinity"]
    [term] = spread["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert [r.name for r in rwx.resources if r.type == PDB] == ["gateway"]

    assert _one(rwo, PVC, f"gateway-router-{KEY}").inputs["spec"]["accessModes"] == ["ReadWriteOnce"]
    together = _one(rwo, DEPLOY, "gateway").inputs["spec"]["template"]["spec"]["affinity"]
    [term] = together["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    selector = _one(rwo, DEPLOY, "gateway").inputs["spec"]["selector"]["matchLabels"]
    assert term == {"labelSelector": {"matchLabels": selector}, "topologyKey": "kubernetes.io/hostname"}
    assert [r.name for r in rwo.resources if r.type == PDB] == []
    job_affinity = _one(rwo, JOB, f"gateway-router-install-{KEY}").inputs["spec"]["template"]["spec"]["affinity"]
    assert job_affinity["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"][
        "labelSelector"]["matchLabels"] == selector


def test_a_router_bump_gets_a_new_volume_and_job():
    assert install_key(ROUTER_REQUIREMENTS.read_text() + "# bump\n") != KEY
    assert len(KEY) == 12


# --- the Job's script, for real -------------------------------------------------------------------------------


def _python_with_pip() -> str:
    """An interpreter that has pip (the uv venv has none; the pinned python-slim image does)."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    for candidate in (getattr(sys, "_base_executable", None), shutil.which("python3", path=path)):
        if candidate and subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True).returncode == 0:
            return candidate
    raise AssertionError("the router install test needs a python3 with pip (README: Python >= 3.11 and pip)")


def _wheel(where: Path, files: dict[str, str]) -> Path:
    """A minimal pure-Python wheel named like the router's release."""
    dist = "vllm_router-0.1.17.dist-info"
    files = {**files, f"{dist}/METADATA": "Metadata-Version: 2.1\nName: vllm-router\nVersion: 0.1.17\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    where.mkdir(parents=True, exist_ok=True)
    path = where / "vllm_router-0.1.17-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


ROUTER_FILES = {"vllm_router/__init__.py": "", "vllm_router/launch_router.py": "def main():\n    return 0\n",
                "vllm_router_rs.py": "ROUTER = 'stand-in for the native module'\n"}


class Installer:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.shims = tmp / "shims"
        self.shims.mkdir()
        (self.shims / "python3").symlink_to(_python_with_pip())
        self.root = tmp / "volume"
        self.root.mkdir()
        self.wheels = tmp / "wheels"

    def requirements(self, wheel: Path, name: str = "req.txt") -> Path:
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        path = self.tmp / name
        path.write_text(f"vllm-router==0.1.17 \\\n    --hash=sha256:{digest}\n")
        return path

    def run(self, requirements: Path, key: str = "k1") -> subprocess.CompletedProcess:
        env = {"PATH": f"{self.shims}:/usr/bin:/bin", "HOME": str(self.tmp), "PIP_NO_INDEX": "1",
               "PIP_FIND_LINKS": str(self.wheels), "PYTHONDONTWRITEBYTECODE": "1"}
        return subprocess.run(install_argv(key, str(self.root), str(requirements)), env=env, capture_output=True,
                              text=True, timeout=120)


def test_install_script_publishes_a_verified_install_once(tmp_path):
    inst = Installer(tmp_path)
    reqs = inst.requirements(_wheel(inst.wheels, ROUTER_FILES))
    (inst.root / ".staging" / "leftover").mkdir(parents=True)  # an interrupted earlier run
    done = inst.run(reqs)
    assert done.returncode == 0, done.stderr
    assert "router-install: installed k1" in done.stdout
    assert (inst.root / "site" / "vllm_router" / "launch_router.py").is_file()
    assert (inst.root / ".installed").read_text() == "k1\n"
    assert not (inst.root / ".staging").exists()
    shutil.rmtree(inst.wheels)  # a re-run on the filled volume downloads nothing
    again = inst.run(reqs)
    assert again.returncode == 0, again.stderr
    assert "router-install: present: k1 (not installed again)" in again.stdout


def test_install_script_refuses_a_file_whose_hash_is_not_locked(tmp_path):
    inst = Installer(tmp_path)
    reqs = inst.requirements(_wheel(inst.wheels, ROUTER_FILES))
    _wheel(inst.wheels, {**ROUTER_FILES, "vllm_router/launch_router.py": "import os  # tampered\n"})
    failed = inst.run(reqs)
    assert failed.returncode != 0
    assert "DO NOT MATCH THE HASHES" in failed.stderr
    assert not (inst.root / "site").exists() and not (inst.root / ".installed").exists()


def test_install_script_publishes_nothing_when_the_router_does_not_import(tmp_path):
    inst = Installer(tmp_path)
    broken = {k: v for k, v in ROUTER_FILES.items() if k != "vllm_router_rs.py"}
    failed = inst.run(inst.requirements(_wheel(inst.wheels, broken)))
    assert failed.returncode != 0
    assert "vllm_router_rs" in failed.stderr
    assert not (inst.root / "site").exists() and not (inst.root / ".installed").exists()
