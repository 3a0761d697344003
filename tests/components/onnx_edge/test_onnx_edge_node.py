"""OnnxEdgeNode: Args rules, the edge stack's docker resources and compose export, the Dockerfile gate, the k3s target."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pulumi
import pytest
import yaml
from pydantic import ValidationError

from components.context import StackContext
from components.onnx_edge import EDGE_POOL_LABEL, EDGE_TAINT_KEY, OnnxEdgeNode, OnnxEdgeNodeArgs, image_context_files
from slm_deploy.render import render
from slm_deploy.synth import synthesize

BASE = {"name": "edge-phi4", "model": "phi-4-mini-instruct", "maxLength": 1024}
DIGEST_IMAGE = "ghcr.io/acme/slm-onnx-edge:0.1.0@sha256:" + "a" * 64


# --------------------------------------------------------------------------- Args rules
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"name": "Edge_Box"}, "must be a DNS-1123 label"),
        ({"model": "qwen3-0.6b"}, "has no ONNX export in the catalog; models with one: phi-4-mini-instruct"),
        ({"model": "phi-5"}, "unknown model 'phi-5'"),
        ({"variant": "cpu-int8"}, "variant 'cpu-int8' is not published for phi-4-mini-instruct; allowed: cpu-int4, gpu-int4"),
        ({"variant": "gpu-int4"}, "variant gpu-int4 is a GPU export and needs executionProvider cuda"),
        ({"executionProvider": "cuda", "accelerator": "nvidia-gpu", "image": DIGEST_IMAGE}, "executionProvider cuda needs a GPU variant"),
        ({"executionProvider": "openvino", "image": DIGEST_IMAGE}, "executionProvider openvino needs accelerator intel-gpu or intel-npu; got accelerator none"),
        ({"executionProvider": "qnn", "accelerator": "intel-npu", "image": DIGEST_IMAGE}, "executionProvider qnn needs accelerator qualcomm-npu"),
        ({"variant": "gpu-int4", "executionProvider": "cuda", "accelerator": "nvidia-gpu"}, "executionProvider cuda needs `image`"),
        ({"executionProvider": "tpu"}, "Input should be 'cpu', 'cuda', 'openvino' or 'qnn'"),
        ({"target": "kubernetes"}, "target kubernetes needs `image`"),
        ({"image": "ghcr.io/acme/slm-onnx-edge:0.1.0"}, "must be an image pinned by digest"),
        ({"maxLength": 200000, "hardwareTier": "cpu-32gb"}, "maxLength 200000 is above phi-4-mini-instruct's maximum of 131072"),
        ({"maxLength": 100}, "greater than or equal to 256"),
        ({"concurrency": 0}, "greater than or equal to 1"),
        ({"hardwareTier": "cpu-64gb"}, "unknown"),
        ({"publishAddress": "everywhere"}, "must be an IPv4 or IPv6 address"),
        ({"edgePool": "bad pool!"}, "must be a label value"),
        ({"port": 80}, "must be an unprivileged host port from 1024 to 65535"),
        ({"unknownKey": 1}, "Extra inputs are not permitted"),
    ],
)
def test_args_rules(override, message):
    with pytest.raises(ValidationError) as exc:
        OnnxEdgeNodeArgs.model_validate({**BASE, **override})
    assert message in str(exc.value)


def test_fit_check_fails_with_numbers_and_suggestions():
    with pytest.raises(ValidationError) as exc:
        OnnxEdgeNodeArgs.model_validate({**BASE, "maxLength": 4096, "hardwareTier": "cpu-8gb"})
    text = str(exc.value)
    assert "does not fit cpu-8gb" in text and "GiB" in text and "What would fit" in text
    assert "a shorter context: maxLength: 1024" in text and "max_length" not in text  # the stack-file key (issue #16)
    assert "at maxLength 4096 × concurrency 1" in text and "a bigger host: hardwareTier: cpu-16gb" in text


def test_defaults_are_documented_and_secure():
    args = OnnxEdgeNodeArgs.model_validate({**BASE, "hardwareTier": "cpu-16gb", "maxLength": 4096})
    assert (args.target, args.variant, args.execution_provider, args.publish_address, args.concurrency) == (
        "docker", "cpu-int4", "cpu", "127.0.0.1", 1)
    for name, field in OnnxEdgeNodeArgs.model_fields.items():
        assert field.description and ("Default" in field.description or "Required" in field.description), name


def test_stack_rejects_target_mismatch():
    from stacks.loader import validate_values
    from stacks.errors import ConfigError

    with pytest.raises(ConfigError, match="onnxEdge\\[0\\] \\(edge-phi4\\): target docker does not match the stack target kubernetes"):
        validate_values({"target": "kubernetes", "onnxEdge": [BASE]}, "stacks/Pulumi.x.yaml")
    with pytest.raises(ConfigError, match="'edge-phi4' is already the name of onnxEdge\\[0\\]"):
        validate_values({"target": "docker", "onnxEdge": [BASE, BASE]}, "stacks/Pulumi.x.yaml")


# --------------------------------------------------------------------------- the Dockerfile
def test_dockerfile_passes_all_checkov_dockerfile_checks(tmp_path):
    from checkov.dockerfile.runner import Runner
    from checkov.runner_filter import RunnerFilter

    files = image_context_files(OnnxEdgeNodeArgs.model_validate(BASE))
    path = tmp_path / "Dockerfile"
    path.write_text(files["Dockerfile"])
    reports = Runner().run(root_folder=None, files=[str(path)], runner_filter=RunnerFilter(framework=["dockerfile"]))
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c.check_id, c.check_name) for r in reports for c in r.failed_checks]
    passed = [c.check_id for r in reports for c in r.passed_checks]
    assert failed == []
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7"} <= set(passed)


def test_dockerfile_content():
    text = image_context_files(OnnxEdgeNodeArgs.model_validate(BASE))["Dockerfile"]
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0].startswith("FROM docker.io/library/python:3.12-slim@sha256:")
    assert "USER 10001:10001" in lines
    assert "ADD" not in {line.split()[0] for line in lines}
    assert "pip install --no-cache-dir --require-hashes --only-binary=:all: -r /app/requirements.txt" in text
    assert "HEALTHCHECK" in text and "urllib.request" in text and "curl" not in "\n".join(lines)
    assert "COPY --chown=0:0 server.py /app/server.py" in text


def test_requirements_are_pinned_with_hashes():
    reqs = image_context_files(OnnxEdgeNodeArgs.model_validate(BASE))["requirements.txt"]
    pins = [line.split(" ")[0] for line in reqs.splitlines() if line and not line.startswith((" ", "#"))]
    assert {"onnxruntime-genai==0.18.0", "onnxruntime==1.32.0", "huggingface-hub==1.33.0"} <= set(pins)
    assert all("==" in p for p in pins)
    assert reqs.count("--hash=sha256:") >= len(pins)


# --------------------------------------------------------------------------- the edge stack (docker)
@pytest.fixture(scope="module")
def edge(synthesized):
    return synthesized("edge")


def _container(result, name):
    (rec,) = [r for r in result.resources if r.type == "docker:index/container:Container" and r.inputs.get("name") == name]
    return rec.inputs


def test_edge_server_container_hardening(edge):
    c = _container(edge, "edge-phi4")
    assert c["readOnly"] is True
    assert c["capabilities"] == {"drops": ["ALL"]}
    assert c["securityOpts"] == ["no-new-privileges:true"]
    assert c["user"] == "10001:10001"
    assert c["privileged"] is False and c["networkMode"] == "bridge"
    assert c["tmpfs"] == {"/tmp": "rw,noexec,nosuid,nodev,size=64m"}
    assert c["memory"] == c["memorySwap"] and 5000 < c["memory"] <= 6300  # sized, within the 8 GB tier
    assert c["ports"] == [{"internal": 8000, "external": 8000, "ip": "127.0.0.1", "protocol": "tcp"}]
    assert "/ready" in c["healthcheck"]["tests"][-1] and "urllib.request" in c["healthcheck"]["tests"][-1]
    assert c["healthcheck"]["startPeriod"] == "600s"
    assert {"volumeName": "edge-phi4-models", "containerPath": "/models", "readOnly": True} in c["volumes"]
    env = dict(e.split("=", 1) for e in c["envs"])
    assert env["SLM_API_KEY_FILE"] == "/run/slm-secrets/api-key" and env["SLM_MAX_LENGTH"] == "1024"
    assert env["SLM_MODEL_DIR"] == "/models/phi-4-mini-instruct/cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4"
    assert c["uploads"][0]["content"] == "[secret]"  # the API key is never in plaintext
    assert not any("key" in k.lower() and "FILE" not in k for k in env)


def test_edge_download_container_pins_revision(edge):
    c = _container(edge, "edge-phi4-model-download")
    argv = c["entrypoints"] + c["command"]
    assert argv == ["hf", "download", "microsoft/Phi-4-mini-instruct-onnx", "--revision",
                    "fc04c8f93df696602fd9f300a30d1bf2e3081347", "--include",
                    "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4/*", "--local-dir", "/models/phi-4-mini-instruct"]
    assert c["restart"] == "no" and c["mustRun"] is False and c["attach"] is True
    assert c["readOnly"] is True and c["capabilities"] == {"drops": ["ALL"]} and c["user"] == "10001:10001"
    assert c["image"] == _container(edge, "edge-phi4")["image"]  # the same image


def test_edge_image_built_on_the_box(edge):
    (img,) = [r for r in edge.resources if r.type == "docker:index/image:Image"]
    assert img.inputs["skipPush"] is True
    assert img.inputs["build"]["platform"] == "linux/amd64"
    context = Path(img.inputs["build"]["context"])
    assert context.parts[-3:] == ("edge", "files", "edge-phi4")  # <build root>/<stack>/files/<name>: the rendered, gated files
    (prov,) = [r for r in edge.resources if r.type == "pulumi:providers:docker"]
    assert prov.inputs["host"] == "ssh://slm@edge-box-01"
    (node,) = [r for r in edge.resources if r.type == "slm:serving:OnnxEdgeNode"]
    assert sorted(node.inputs["generatedFiles"]) == ["Dockerfile", "requirements.txt", "server.py"]


def test_edge_compose_export(edge, tmp_path):
    render(edge, tmp_path)
    doc = yaml.safe_load((tmp_path / "compose.yaml").read_text())
    server = doc["services"]["edge-phi4"]
    assert server["depends_on"] == {"edge-phi4-model-download": {"condition": "service_completed_successfully"}}
    assert server["read_only"] is True and server["cap_drop"] == ["ALL"] and server["user"] == "10001:10001"
    assert server["ports"][0]["host_ip"] == "127.0.0.1"
    assert server["mem_limit"].endswith("m")
    assert "environment" in server and not any("API_KEY=" in f"{k}={v}" for k, v in server["environment"].items())
    assert server["secrets"] == [{"source": "edge-phi4-api-key", "target": "/run/slm-secrets/api-key", "mode": 0o440}]
    assert doc["secrets"] == {"edge-phi4-api-key": {"file": "./secrets/edge-phi4-api-key"}}
    # Containers on the node's network cannot talk to each other, in Pulumi's network and in the export.
    assert doc["networks"]["edge-phi4-net"] == {"driver": "bridge", "driver_opts": {"com.docker.network.bridge.enable_icc": "false"}}
    assert doc["services"]["edge-phi4-model-download"]["restart"] == "no"
    for rel in ("Dockerfile", "server.py", "requirements.txt"):
        assert (tmp_path / "files" / "edge-phi4" / rel).is_file()


def test_edge_compose_checks(edge, tmp_path):
    from policies.compose.runner import run_compose_checks

    render(edge, tmp_path)
    report = run_compose_checks(yaml.safe_load((tmp_path / "compose.yaml").read_text()), "compose.yaml")
    failed = sorted({(f.check_id, f.resource) for f in report.failed_checks})
    assert failed == []
    # The locally built image is exported as compose `build:` from the gated Dockerfile, so the
    # digest check (CKV_SLM_011) judges the Dockerfile's FROM instead of a registry digest.
    doc = yaml.safe_load((tmp_path / "compose.yaml").read_text())
    for service in ("edge-phi4", "edge-phi4-model-download"):
        assert doc["services"][service]["build"] == {"context": "./files/edge-phi4", "dockerfile": "Dockerfile", "platforms": ["linux/amd64"]}


def test_construction_writes_nothing_and_the_image_builds_from_the_rendered_files(tmp_path):
    """The build context is generatedFiles (rendered to files/<name>/ and gated); the image builds from there."""
    args = OnnxEdgeNodeArgs.model_validate(BASE)
    root = tmp_path / "build" / "t" / "files"

    def program():
        OnnxEdgeNode("n", args, StackContext(), api_key=pulumi.Output.secret("k"), context_root=root)

    result = synthesize(program, project="slm-deploy", stack="t")
    assert list(tmp_path.iterdir()) == [], "constructing the component wrote files"
    (image,) = [r.inputs for r in result.resources if r.type == "docker:index/image:Image"]
    assert image["build"]["context"] == str(root / "n")
    render(result, tmp_path / "build" / "t")
    written = {p.name: p.read_text() for p in (root / "n").iterdir()}
    assert written == image_context_files(args), "the renderer writes exactly the context the image builds from"


def test_docker_server_cannot_read_the_hf_token(tmp_path):
    """Issue #10: the HF token sat in the secrets volume the long-running server mounts read-write. It has its
    own volume now, mounted only by the download step; the server's volume holds nothing but its API key."""
    args = OnnxEdgeNodeArgs.model_validate(BASE)

    def program():
        OnnxEdgeNode("n", args, StackContext(), api_key=pulumi.Output.secret("k"), hf_token=pulumi.Output.secret("hf_x"),
                     context_root=tmp_path / "files")

    result = synthesize(program, project="slm-deploy", stack="t")
    download, server = _container(result, "edge-phi4-model-download"), _container(result, "edge-phi4")
    token_volumes = {v["volumeName"] for v in download["volumes"] if v["containerPath"] == "/run/slm-hf-token"}
    assert token_volumes == {"edge-phi4-hf-token"}
    assert [u["file"] for u in download["uploads"]] == ["/run/slm-hf-token/hf-token"]
    assert dict(e.split("=", 1) for e in download["envs"])["HF_TOKEN_PATH"] == "/run/slm-hf-token/hf-token"
    assert not token_volumes & {v["volumeName"] for v in server["volumes"]}, "the server mounts the HF token's volume"
    assert [u["file"] for u in server["uploads"]] == ["/run/slm-secrets/api-key"]
    assert not any("hf" in v["volumeName"] or v["containerPath"].startswith("/run/slm-hf") for v in server["volumes"])
    render(result, tmp_path / "out")  # real values (no offline markers): secret by type, never inlined
    doc = yaml.safe_load((tmp_path / "out" / "compose.yaml").read_text())
    assert [s["source"] for s in doc["services"]["edge-phi4"]["secrets"]] == ["edge-phi4-api-key"]
    assert [s["source"] for s in doc["services"]["edge-phi4-model-download"]["secrets"]] == ["edge-phi4-model-download-hf-token"]
    assert "configs" not in doc and "hf_x" not in (tmp_path / "out" / "compose.yaml").read_text()
    from policies.compose.runner import run_compose_checks

    report = run_compose_checks(doc, "compose.yaml", checks=["CKV_SLM_029"])  # the gate's check for this attack
    assert report.failed_checks == [] and len(report.passed_checks) == 2


# --------------------------------------------------------------------------- k3s target
def test_kubernetes_target_is_valid_and_hardened(tmp_path):
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    from slm_deploy.gate.schema_validation import validate_manifests

    args = OnnxEdgeNodeArgs.model_validate({**BASE, "target": "kubernetes", "image": DIGEST_IMAGE, "edgePool": "shop-floor"})

    def program():
        OnnxEdgeNode("edge-phi4", args, StackContext(namespace="edge"), api_key=pulumi.Output.secret("k"))

    result = synthesize(program, project="slm-deploy", stack="t")
    render(result, tmp_path)
    assert validate_manifests(tmp_path / "manifests") == []
    (dep,) = [r.inputs for r in result.resources if r.type == "kubernetes:apps/v1:Deployment"]
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
    assert pod["nodeSelector"] == {EDGE_POOL_LABEL: "shop-floor"}
    assert pod["tolerations"] == [{"key": EDGE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert "initContainers" not in pod, "the serving pod downloads nothing"
    (job,) = [r.inputs for r in result.resources if r.type == "kubernetes:batch/v1:Job" and "-fill-" in r.inputs["metadata"]["name"]]
    assert job["metadata"]["name"] == "edge-phi4-fill-fc04c8f93df6"
    job_pod = job["spec"]["template"]["spec"]
    (download,), (verify,) = job_pod["initContainers"], job_pod["containers"]
    argv = download["command"] + download.get("args", [])
    assert argv[:2] == ["hf", "download"] and argv[argv.index("--revision") + 1] == "fc04c8f93df696602fd9f300a30d1bf2e3081347"
    assert verify["command"] + verify["args"] == ["python3", "/opt/slm-deploy/verify_download.py", "--repo", argv[2],
                                                  "--revision", "fc04c8f93df696602fd9f300a30d1bf2e3081347",
                                                  "--local-dir", "/models/phi-4-mini-instruct", "--include", argv[argv.index("--include") + 1]]
    assert job_pod["nodeSelector"] == {EDGE_POOL_LABEL: "shop-floor"}, "fetched on the edge pool, in the edge image"
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["persistentVolumeClaim"] == {"claimName": "edge-phi4-models-fc04c8f93df6", "readOnly": True}
    (server,) = pod["containers"]
    sc = server["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert server["startupProbe"]["periodSeconds"] * server["startupProbe"]["failureThreshold"] >= 600
    assert server["readinessProbe"]["httpGet"]["path"] == "/ready" and server["livenessProbe"]["httpGet"]["path"] == "/health"
    assert server["resources"]["limits"]["memory"] and server["resources"]["requests"]["memory"]
    assert not any("valueFrom" in e for e in server["env"])
    kinds = sorted(r.inputs["kind"] for r in result.resources if r.type.startswith("kubernetes:"))
    assert kinds == ["ConfigMap", "Deployment", "Job", "Job", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy",
                     "PersistentVolumeClaim", "Secret", "Service"]
    files = glob.glob(str(tmp_path / "manifests" / "*.yaml"))
    report = Runner().run(root_folder=None, files=files, runner_filter=RunnerFilter(framework=["kubernetes"]))
    failed = sorted({c.check_id for c in report.failed_checks})
    assert failed == []
    assert len(report.passed_checks) > 50


def test_edge_stack_passes_the_gate(built):
    build = built("edge")
    assert build.gate.ok, [f"{f.check_id} {f.resource} {f.message}" for f in build.gate.failed]
    passed = {f.check_id for f in build.gate.passed}
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_SLM_013"} <= passed
    waived = {w.finding.check_id for w in getattr(build.gate, "waived", [])}
    assert waived <= {"CKV_SLM_011"}
