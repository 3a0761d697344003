"""The staging and prod vLLM stacks: security fields, derived flags, schema validity and the gate."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
import yaml

from slm_deploy.gate.schema_validation import validate_manifests

SHA = "5a149550068a1eb93398160d8953f5f56c3603e9"


@pytest.fixture(scope="module")
def built(built) -> dict[str, Path]:
    """The session's staging and prod builds (tests/conftest.py), gated."""
    out = {}
    for stack in ("staging", "prod"):
        build = built(stack)
        assert build.gate.ok, build.gate.failed
        out[stack] = build.out_dir
    return out


def _objs(root: Path, kind: str | None = None) -> list[dict]:
    objs = [yaml.safe_load(p.read_text()) for p in sorted((root / "manifests").glob("*.yaml"))]
    return [o for o in objs if kind is None or o["kind"] == kind]


def _one(root: Path, kind: str, name: str) -> dict:
    [obj] = [o for o in _objs(root, kind) if o["metadata"]["name"] == name]
    return obj


def _flag(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def _containers(dep: dict) -> dict[str, dict]:
    spec = dep["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec["containers"] + spec.get("initContainers", [])}


@pytest.mark.parametrize("stack,name", [("staging", "phi4-mini"), ("prod", "phi4-mini"), ("prod", "qwen3-8b")])
def test_security_fields(built, stack, name):
    dep = _one(built[stack], "Deployment", name)
    pod = dep["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == name
    assert pod["securityContext"] == {"fsGroup": 10001, "fsGroupChangePolicy": "OnRootMismatch", "runAsGroup": 10001,
                                      "runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    for c in _containers(dep).values():
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
        assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
        assert sc["runAsUser"] >= 10000 and sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "@sha256:" in c["image"]
        for section in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][section])
        assert not any("valueFrom" in e for e in c.get("env", [])), "secrets never via env"
    sa = _one(built[stack], "ServiceAccount", name)
    assert sa["automountServiceAccountToken"] is False


@pytest.mark.parametrize("stack,name", [("staging", "phi4-mini")])
def test_vllm_container_behind_proxy_on_localhost(built, stack, name):
    dep = _one(built[stack], "Deployment", name)
    cs = _containers(dep)
    vllm = cs["vllm"]
    assert vllm["command"] == ["vllm", "serve"]
    assert _flag(vllm["args"], "--host") == "127.0.0.1" and _flag(vllm["args"], "--port") == "8000"
    assert "ports" not in vllm, "vLLM publishes no port; only the proxy does"
    assert "--api-key" not in vllm["args"]
    proxy = cs["auth-proxy"]
    assert {p["name"]: p["containerPort"] for p in proxy["ports"]} == {"http-auth": 8080, "metrics": 9090}
    svc = _one(built[stack], "Service", name)
    assert svc["spec"]["type"] == "ClusterIP"
    assert {p["name"]: p["targetPort"] for p in svc["spec"]["ports"]} == {"http-auth": "http-auth", "metrics": "metrics"}
    assert svc["metadata"]["labels"]["app.kubernetes.io/component"] == "model-server"
    for probe in ("startupProbe", "readinessProbe"):
        assert vllm[probe]["httpGet"] == {"path": "/health", "port": 8080}
    # liveness bypasses the proxy: a stuck nginx must not restart the GPU server
    assert vllm["livenessProbe"]["exec"]["command"][:2] == ["python3", "-c"]
    assert "http://127.0.0.1:8000/health" in vllm["livenessProbe"]["exec"]["command"][2]
    start = vllm["startupProbe"]
    assert start["periodSeconds"] * start["failureThreshold"] >= 600


def test_pod_volumes_shm_cache_and_scratch(built):
    dep = _one(built["staging"], "Deployment", "phi4-mini")
    pod = dep["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}
    assert vols["model-cache"]["persistentVolumeClaim"] == {"claimName": f"phi4-mini-cache-{SHA[:12]}", "readOnly": True}
    vllm = _containers(dep)["vllm"]
    mounts = {m["mountPath"]: m for m in vllm["volumeMounts"]}
    assert mounts["/models"]["readOnly"] is True
    assert mounts["/dev/shm"]["name"] == "dshm" and mounts["/tmp"]["name"] == "vllm-tmp"
    env = {e["name"]: e["value"] for e in vllm["env"]}
    assert env["HF_HUB_OFFLINE"] == "1" and env["HOME"].startswith("/tmp")
    for key in ("XDG_CACHE_HOME", "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR", "NUMBA_CACHE_DIR"):
        assert env[key].startswith("/tmp/")
    pvc = _one(built["staging"], "PersistentVolumeClaim", f"phi4-mini-cache-{SHA[:12]}")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert dep["spec"]["strategy"] == {"type": "Recreate"}


def test_download_step_is_pinned_and_writable(built):
    dep = _one(built["staging"], "Deployment", "phi4-mini")
    assert "initContainers" not in dep["spec"]["template"]["spec"], "the fill Job downloads, not the serving pod"
    job = _one(built["staging"], "Job", f"phi4-mini-fill-{SHA[:12]}")
    init = job["spec"]["template"]["spec"]["initContainers"][0]
    assert init["name"] == "download"
    argv = init["command"] + init["args"]
    assert argv[:5] == ["hf", "download", "microsoft/Phi-4-mini-instruct", "--revision", SHA]
    assert argv[5:] == ["--include", "*.safetensors", "*.json", "tokenizer*", "*.model", "*.tiktoken", "*.txt", "*.jinja"]
    assert {m["mountPath"]: m.get("readOnly") for m in init["volumeMounts"]}["/models"] is None
    assert "nvidia.com/gpu" not in init["resources"]["limits"], "a download needs no GPU"


def test_staging_derived_flags(built):
    dep = _one(built["staging"], "Deployment", "phi4-mini")
    args = _containers(dep)["vllm"]["args"]
    assert _flag(args, "--model") == "microsoft/Phi-4-mini-instruct" and _flag(args, "--revision") == SHA
    assert _flag(args, "--served-model-name") == "phi-4-mini-instruct"
    assert _flag(args, "--max-model-len") == "8192"
    assert _flag(args, "--max-num-seqs") == "11"
    assert _flag(args, "--gpu-memory-utilization") == "0.9"
    assert _flag(args, "--tensor-parallel-size") == "1"
    assert _flag(args, "--tool-call-parser") == "phi4_mini_json" and "--enable-auto-tool-choice" in args
    assert _flag(args, "--chat-template") == "/vllm-workspace/examples/tool_chat_template_phi4_mini.jinja"
    res = _containers(dep)["vllm"]["resources"]
    assert res["limits"]["nvidia.com/gpu"] == "1" and res["requests"]["nvidia.com/gpu"] == "1"
    assert res["requests"]["memory"] == "10Gi" and res["limits"]["memory"] == "14Gi"
    pod = dep["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]}]}]
    assert pod["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert dep["spec"]["replicas"] == 1
    assert _objs(built["staging"], "ScaledObject") == [] and _objs(built["staging"], "HorizontalPodAutoscaler") == []


def test_prod_derived_flags_and_autoscaling(built):
    qwen = _containers(_one(built["prod"], "Deployment", "qwen3-8b"))["vllm"]["args"]
    assert _flag(qwen, "--model") == "Qwen/Qwen3-8B"
    assert _flag(qwen, "--max-model-len") == "16384" and _flag(qwen, "--tool-call-parser") == "hermes"
    assert int(_flag(qwen, "--max-num-seqs")) >= 8
    phi = _containers(_one(built["prod"], "Deployment", "phi4-mini"))["vllm"]["args"]
    assert int(_flag(phi, "--max-num-seqs")) >= 16
    for name, model in (("phi4-mini", "phi-4-mini-instruct"), ("qwen3-8b", "qwen3-8b")):
        so = _one(built["prod"], "ScaledObject", name)
        assert so["apiVersion"] == "keda.sh/v1alpha1"
        assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (2, 8)
        # namespace matcher: staging and prod serve the same model names; a shared Prometheus would mix them
        assert so["spec"]["triggers"][0]["metadata"]["query"] == (
            f'sum(vllm:num_requests_waiting{{namespace="slm-prod",model_name="{model}"}})')
        # prod monitors in operator mode: KEDA asks the operator's Prometheus, not a per-stack one
        assert so["spec"]["triggers"][0]["metadata"]["serverAddress"] == "http://prometheus-operated.monitoring.svc.cluster.local:9090"
        pdb = _one(built["prod"], "PodDisruptionBudget", name)
        assert pdb["spec"]["maxUnavailable"] == 1
        [pvc] = [o for o in _objs(built["prod"], "PersistentVolumeClaim") if o["metadata"]["name"].startswith(f"{name}-cache-")]
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"] and pvc["spec"]["storageClassName"] == "standard-rwx"
        pod = _one(built["prod"], "Deployment", name)["spec"]["template"]["spec"]
        [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert term == {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L40S"]}]}


PROMETHEUS_PEER = {
    # staging: the standalone MonitoringStack's Prometheus, in the stack namespace
    "staging": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}},
    # prod: the cluster's Prometheus Operator in its own namespace (monitoring.operator.prometheusNamespace)
    "prod": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    },
}


@pytest.mark.parametrize("stack,name", [("staging", "phi4-mini")])
def test_network_policy_default_deny_and_named_peers(built, stack, name):
    np_ = _one(built[stack], "NetworkPolicy", name)["spec"]
    assert np_["policyTypes"] == ["Ingress", "Egress"]
    assert np_["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": name, "app.kubernetes.io/name": "vllm"}
    ports = [[p["port"] for p in rule["ports"]] for rule in np_["ingress"]]
    assert ports[:-1] == [[8080]] * (len(ports) - 1) and ports[-1] == [9090]
    assert np_["ingress"][-1]["from"] == [PROMETHEUS_PEER[stack]]
    assert all(rule.get("from") for rule in np_["ingress"]), "no ingress rule open to everyone"
    egress_ports = sorted(p["port"] for rule in np_["egress"] for p in rule["ports"])
    assert egress_ports == [53, 53], "serving pods: DNS only; the cache-fill Job downloads"


@pytest.mark.parametrize("name", ["phi4-mini", "qwen3-8b"])
def test_prod_model_servers_behind_the_gateway(built, name):
    """prod has a ModelGateway: vLLM listens on the pod address with no proxy of its own, and its
    NetworkPolicy admits only the gateway pods and Prometheus, on vLLM's port."""
    cs = _containers(_one(built["prod"], "Deployment", name))
    assert "auth-proxy" not in cs
    vllm = cs["vllm"]
    assert _flag(vllm["args"], "--host") == "0.0.0.0" and "--api-key" not in vllm["args"]
    assert vllm["ports"] == [{"containerPort": 8000, "name": "http", "protocol": "TCP"}]
    assert vllm["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    svc = _one(built["prod"], "Service", name)
    assert svc["spec"]["type"] == "ClusterIP" and [p["port"] for p in svc["spec"]["ports"]] == [8000]
    ingress = _one(built["prod"], "NetworkPolicy", name)["spec"]["ingress"]
    assert [rule["from"] for rule in ingress] == [
        [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "gateway", "app.kubernetes.io/name": "model-gateway"}}}],
        [PROMETHEUS_PEER["prod"]],
    ]
    assert all([p["port"] for p in rule["ports"]] == [8000] for rule in ingress)
    assert not [o for o in _objs(built["prod"], "Secret") if o["metadata"]["name"] == f"{name}-api-key"]


def test_api_key_secret_and_no_plaintext(built):
    for stack in ("staging",):
        secret = _one(built[stack], "Secret", "phi4-mini-api-key")
        assert secret["stringData"] == {"api-key": "[secret]"}
        for p in (built[stack] / "manifests").glob("*.yaml"):
            assert "generated:" not in p.read_text()


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_kubernetes_validate_strict(built, stack):
    assert validate_manifests(built[stack] / "manifests", ("1.29", "1.33")) == []


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_checkov_all_builtin_and_slm_checks_pass(built, stack):
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    files = glob.glob(str(built[stack] / "manifests" / "*.yaml"))
    report = Runner().run(root_folder=None, files=files, external_checks_dir=["policies/checks"],
                          runner_filter=RunnerFilter(framework=["kubernetes"]))
    reports = report if isinstance(report, list) else [report]
    failed = [(c.check_id, c.resource) for r in reports for c in r.failed_checks]
    assert failed == []
    passed = {c.check_id for r in reports for c in r.passed_checks}
    assert {"CKV_SLM_001", "CKV_SLM_003", "CKV_SLM_006", "CKV_SLM_007", "CKV_K8S_43", "CKV2_K8S_6"} <= passed
