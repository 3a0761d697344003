"""VllmService under the mock runtime: variants the reference stacks do not cover."""

from __future__ import annotations

import pulumi
import pytest

from components.vllm import VllmService, VllmServiceArgs
from slm_deploy.synth import SynthError, synthesize
from components.context import ClusterCapabilities, StackContext

SHA = "b" * 40


def _synth(args: dict, cluster: dict | None = None, *, hf_token: bool = False, api_key: bool = True, captured=None):
    def program():
        svc = VllmService(
            args["name"], VllmServiceArgs.model_validate(args),
            StackContext(namespace="ns", cluster=ClusterCapabilities.model_validate(cluster or {})),
            api_key=pulumi.Output.secret("k" * 20) if api_key else None,
            hf_token=pulumi.Output.secret("hf_x") if hf_token else None,
        )
        if captured is not None:
            captured.append(svc)
            pulumi.Output.all(svc.base_url, svc.served_model_names, svc.api_key_secret_name, svc.service_name).apply(
                lambda v: captured.append(v))
    return synthesize(program, project="slm-deploy", stack="t")


def _by(result, typ: str, name: str | None = None):
    recs = [r for r in result.resources if r.type == typ and (name is None or r.name == name)]
    assert recs, f"no {typ} {name}"
    return recs[0]


def _pod(result, name="svc"):
    return _by(result, "kubernetes:apps/v1:Deployment", name).inputs["spec"]["template"]["spec"]


def test_hpa_on_queue_depth_without_keda():
    res = _synth({"name": "svc", "model": "qwen3-0.6b", "replicas": 2, "maxReplicas": 4}, {"rwxStorageClass": "nfs"})
    hpa = _by(res, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
    metric = hpa["metrics"][0]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == "vllm_num_requests_waiting"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "5"}
    assert not [r for r in res.resources if "ScaledObject" in r.type]
    vols = {v["name"]: v for v in _pod(res)["volumes"]}
    assert vols["model-cache"]["persistentVolumeClaim"] == {"claimName": f"svc-cache-{_key('qwen3-0.6b')}", "readOnly": True}
    strategy = _by(res, "kubernetes:apps/v1:Deployment").inputs["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def test_cache_is_read_write_many_when_pods_can_overlap():
    args = {"name": "svc", "model": "qwen3-0.6b", "replicas": 2, "maxReplicas": 4}
    pvc = _by(_synth(args, {"rwxStorageClass": "nfs"}), "kubernetes:core/v1:PersistentVolumeClaim").inputs["spec"]
    assert pvc["accessModes"] == ["ReadWriteMany"] and pvc["storageClassName"] == "nfs"
    single = _by(_synth({"name": "svc", "model": "qwen3-0.6b"}, {"storageClass": "ssd", "rwxStorageClass": "nfs"}),
                 "kubernetes:core/v1:PersistentVolumeClaim").inputs["spec"]
    assert single["accessModes"] == ["ReadWriteOnce"] and single["storageClassName"] == "ssd"
    with pytest.raises(ValueError, match="modelCache per-pod would make every serving pod download"):
        VllmServiceArgs.model_validate({**args, "modelCache": "per-pod"})


def test_keda_scale_to_zero_has_activation_trigger():
    res = _synth({"name": "svc", "model": "qwen3-0.6b", "maxReplicas": 3, "scaleToZero": True,
                  "activationQuery": 'sum(rate(gateway_requests_total{model="q"}[1m]))'},
                 {"keda": True, "rwxStorageClass": "nfs"})
    so = _by(res, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    assert so["minReplicaCount"] == 0 and so["maxReplicaCount"] == 3
    assert [t["name"] for t in so["triggers"]] == ["queue-depth", "activation"]
    queue, wake = (t["metadata"] for t in so["triggers"])
    assert queue["query"] == 'sum(vllm:num_requests_waiting{namespace="ns",model_name="qwen3-0.6b"})'
    # activation: KEDA wakes 0 -> 1 when the query is > 0 ...
    assert wake["activationThreshold"] == "0"
    # ... and the HPA never gets more than ceil(value / threshold) = 1 replica from it (threshold 1
    # made a gateway rate of 40 req/s demand 40 GPU pods); the queue depth drives scaling above 1.
    assert float(wake["threshold"]) >= 1e9
    assert queue["threshold"] == "5" and queue["activationThreshold"] == "0"


def test_scale_to_zero_without_keda_fails_in_component():
    with pytest.raises(SynthError, match="scaleToZero needs KEDA"):
        _synth({"name": "svc", "model": "qwen3-0.6b", "maxReplicas": 3, "scaleToZero": True, "activationQuery": "up"})


def test_hf_token_is_a_secret_file_and_lora_adapters_download_pinned():
    res = _synth({"name": "svc", "model": "qwen3-4b", "loraAdapters": [{"name": "sql", "hfRepo": "me/qwen3-4b-sql-lora", "revision": SHA}]},
                 hf_token=True)
    secret = _by(res, "kubernetes:core/v1:Secret", "svc-hf-token").inputs
    assert secret["stringData"] == {"token": "[secret]"}
    pod = _pod(res)
    steps = _fill(res)
    assert list(steps) == ["download", "verify", "download-lora-sql", "verify-lora-sql"]
    lora = steps["download-lora-sql"]["argv"]
    assert lora[:7] == ["hf", "download", "me/qwen3-4b-sql-lora", "--revision", SHA, "--local-dir", "/models/lora/sql"]
    assert lora[7] == "--include" and "*.safetensors" in lora[8:]
    assert steps["verify-lora-sql"]["argv"][:8] == ["python3", "/opt/slm-deploy/verify_download.py", "--repo",
                                                    "me/qwen3-4b-sql-lora", "--revision", SHA, "--local-dir", "/models/lora/sql"]
    for c in steps.values():
        env = {e["name"]: e["value"] for e in c["env"]}
        assert env["HF_TOKEN_PATH"] == "/etc/hf-token/token"
        assert {m["mountPath"]: m.get("readOnly") for m in c["volumeMounts"]}["/etc/hf-token"] is True
    vllm = next(c for c in pod["containers"] if c["name"] == "vllm")
    assert "/etc/hf-token" not in [m["mountPath"] for m in vllm["volumeMounts"]], "the server never sees the token"
    assert not pod.get("initContainers"), "the serving pod downloads nothing"
    args = vllm["args"]
    assert args[args.index("--lora-modules") + 1] == "sql=/models/lora/sql"
    assert "--enable-lora" in args and args[args.index("--max-loras") + 1] == "1"


def test_generated_api_key_when_unset_and_outputs():
    captured: list = []
    res = _synth({"name": "svc", "model": "qwen3-0.6b", "servedModelName": "small"}, api_key=False, captured=captured)
    pw = _by(res, "random:index/randomPassword:RandomPassword", "svc-api-key").inputs
    assert pw["length"] == 48 and pw["special"] is False
    base_url, names, secret_name, service = captured[-1]
    assert base_url == "http://svc.ns.svc.cluster.local:8080/v1"
    assert names == ["small"] and secret_name == "svc-api-key" and service == "svc"
    comp = _by(res, "slm:serving:VllmService", "svc")
    assert comp.inputs["securityOptOuts"] == []
    assert all(r.parent == "slm:serving:VllmService::svc" for r in res.resources if r.type.startswith(("kubernetes:", "random:")))


def test_monitoring_contribution_scrapes_proxy_metrics_port():
    captured: list = []
    _synth({"name": "svc", "model": "qwen3-0.6b"}, captured=captured)
    mon = captured[0].monitoring
    assert mon.engine == "vllm"
    [target] = mon.scrape_targets
    assert target.port_name == "metrics" and target.namespace == "ns"
    assert target.pod_selector == {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "svc"}


def test_tensor_parallel_sets_gpus_and_shm():
    res = _synth({"name": "svc", "model": "qwen3-8b", "gpu": "l4", "gpuCount": 2, "tensorParallelSize": 2})
    pod = _pod(res)
    vllm = next(c for c in pod["containers"] if c["name"] == "vllm")
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert vllm["args"][vllm["args"].index("--tensor-parallel-size") + 1] == "2"
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}


def test_gated_model_without_hf_token_fails():
    with pytest.raises(SynthError, match="is gated on Hugging Face: set the hfToken secret"):
        _synth({"name": "svc", "model": "gemma-3-4b-it"})


# ----------------------------------------------------------------------------- audit fixes (issue 4)
def _key(model: str, revision: str | None = None) -> str:
    from components.catalog import get_model

    return (revision or get_model(model).hf_revision)[:12]


def _fill(res) -> dict[str, dict]:
    """The cache-fill Job's steps (init containers, then the main container), by name."""
    [job] = [r for r in res.resources if r.type == "kubernetes:batch/v1:Job" and "-fill-" in r.name]
    spec = job.inputs["spec"]["template"]["spec"]
    return {c["name"]: {**c, "argv": c["command"] + c["args"]} for c in spec.get("initContainers", []) + spec["containers"]}


def _containers(res, name="svc"):
    pod = _pod(res, name)
    return {c["name"]: c for c in pod["containers"] + pod.get("initContainers", [])}


def test_download_fetches_only_what_vllm_loads():
    """Meta's repos ship original/*.pth (a second copy of the weights): the cache would overflow."""
    import fnmatch

    res = _synth({"name": "svc", "model": "llama-3.2-1b-instruct", "revision": SHA}, hf_token=True)
    argv = _fill(res)["download"]["argv"]
    assert argv[:2] == ["hf", "download"] and argv[argv.index("--include") - 2] == "--revision"
    assert argv[argv.index("--include") - 1] == _key("llama-3.2-1b-instruct", SHA) + SHA[12:]
    patterns = argv[argv.index("--include") + 1:]
    assert patterns and not any(p.startswith("-") for p in patterns)
    assert "*.py" not in patterns, "no remote code without --trust-remote-code"

    def fetched(path: str) -> bool:  # huggingface_hub filter_repo_objects: fnmatch, '*' crosses '/'
        return any(fnmatch.fnmatch(path, p) for p in patterns)

    for needed in ("model.safetensors", "model-00001-of-00002.safetensors", "model.safetensors.index.json",
                   "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "tokenizer.model", "merges.txt", "vocab.json", "chat_template.jinja"):
        assert fetched(needed), needed
    for skipped in ("original/consolidated.00.pth", "pytorch_model.bin", "model.gguf", "onnx/model.onnx", "README.md"):
        assert not fetched(skipped), skipped
    # cache = 1.5 x the safetensors, which is now all that is downloaded
    from components.sizing import checkpoint_bytes
    pvc = _by(res, "kubernetes:core/v1:PersistentVolumeClaim").inputs["spec"]
    assert pvc["resources"]["requests"]["storage"] == f"{-(-int(checkpoint_bytes('llama-3.2-1b-instruct') * 1.5) // 1024**3)}Gi"


def test_remote_code_downloads_python_files():
    res = _synth({"name": "svc", "model": "qwen3-0.6b", "extraArgs": ["--trust-remote-code"]})
    argv = _fill(res)["download"]["argv"]
    assert "*.py" in argv[argv.index("--include") + 1:]


def test_download_patterns_from_catalog_field(monkeypatch):
    from components.catalog import get_model
    from components.vllm import VllmServiceArgs as A

    spec = get_model("qwen3-0.6b").model_copy(update={"download_patterns": ["*.safetensors", "config.json"]})
    monkeypatch.setattr(A, "spec", property(lambda self: spec))
    assert A.model_validate({"name": "svc", "model": "qwen3-0.6b"}).download_patterns == ["*.safetensors", "config.json"]


def test_egress_443_only_to_public_addresses_and_only_from_the_fill_job():
    res = _synth({"name": "svc", "model": "qwen3-0.6b"})
    serving = _by(res, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc").inputs["spec"]
    assert [p["port"] for r in serving["egress"] for p in r["ports"]] == [53, 53], "serving pods: DNS only"
    np_ = _by(res, "kubernetes:networking.k8s.io/v1:NetworkPolicy", f"svc-fill-{_key('qwen3-0.6b')}").inputs["spec"]
    assert np_["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "vllm-cache-fill"
    assert np_["ingress"] == []
    https = [r for r in np_["egress"] if any(p.get("port") == 443 for p in r["ports"])]
    assert len(https) == 1 and "to" in https[0], "443 never open to any address"
    [peer] = https[0]["to"]
    assert peer == {"ipBlock": {"cidr": "0.0.0.0/0", "except": [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]}}


def test_prefilled_claim_no_job_no_egress_no_token():
    res = _synth({"name": "svc", "model": "gemma-3-4b-it", "source": {"prefilledClaim": "gemma-weights"}}, hf_token=True)
    pod = _pod(res)
    assert not pod.get("initContainers"), "no download step"
    assert not [r for r in res.resources if r.type == "kubernetes:batch/v1:Job" and "-fill-" in r.name]
    assert not [r for r in res.resources if r.type == "kubernetes:core/v1:PersistentVolumeClaim"], "the claim is the user's"
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["model-cache"]["persistentVolumeClaim"] == {"claimName": "gemma-weights", "readOnly": True}
    np_ = _by(res, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc").inputs["spec"]
    assert [p["port"] for r in np_["egress"] for p in r["ports"]] == [53, 53], "DNS only"
    assert not [r for r in res.resources if r.name == "svc-hf-token"]


@pytest.mark.parametrize("gpu,values", [
    ("a100-80gb", ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"]),
    ("h100-80gb", ["NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe", "NVIDIA-H100-NVL"]),
    ("l4", ["NVIDIA-L4"]),
])
def test_gpu_affinity_accepts_label_aliases(gpu, values):
    res = _synth({"name": "svc", "model": "qwen3-0.6b", "gpu": gpu, "nodeSelector": {"pool": "gpu"}})
    pod = _pod(res)
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": values}]}]
    assert pod["nodeSelector"] == {"pool": "gpu"}, "user extras kept, GPU label moved to the affinity"


def test_liveness_is_exec_on_localhost_readiness_through_proxy():
    vllm = _containers(_synth({"name": "svc", "model": "qwen3-0.6b"}))["vllm"]
    live = vllm["livenessProbe"]
    assert "httpGet" not in live
    cmd = live["exec"]["command"]
    assert cmd[:2] == ["python3", "-c"] and "http://127.0.0.1:8000/health" in cmd[2]
    assert "curl" not in " ".join(cmd)
    compile(cmd[2], "<liveness>", "exec")
    assert live["timeoutSeconds"] >= 5 and live["periodSeconds"] * live["failureThreshold"] >= 60
    assert vllm["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8080}
    assert vllm["startupProbe"]["httpGet"] == {"path": "/health", "port": 8080}


def test_liveness_script_exits_by_health_status():
    import subprocess
    import sys

    from components.vllm.k8s import liveness_probe

    script = liveness_probe().exec_.command[2]
    # nothing listens on 127.0.0.1:8000 here: the probe must fail, not hang or succeed
    assert subprocess.run([sys.executable, "-c", script], timeout=30).returncode == 1


def test_resource_overrides_replace_the_plan():
    vllm = _containers(_synth({"name": "svc", "model": "qwen3-0.6b", "cpuRequest": "6", "memoryRequest": "12Gi",
                               "memoryLimit": "20Gi"}))["vllm"]
    assert vllm["resources"]["requests"]["cpu"] == "6"
    assert vllm["resources"]["requests"]["memory"] == "12Gi" and vllm["resources"]["limits"]["memory"] == "20Gi"


def test_tool_calling_phi4_mini_uses_vllm_tool_template():
    vllm = _containers(_synth({"name": "svc", "model": "phi-4-mini-instruct", "toolCalling": True}))["vllm"]
    args = vllm["args"]
    assert args[args.index("--chat-template") + 1] == "/vllm-workspace/examples/tool_chat_template_phi4_mini.jinja"
    plain = _containers(_synth({"name": "svc", "model": "phi-4-mini-instruct"}))["vllm"]["args"]
    assert "--chat-template" not in plain
    qwen = _containers(_synth({"name": "svc", "model": "qwen3-0.6b", "toolCalling": True}))["vllm"]["args"]
    assert "--chat-template" not in qwen, "hermes works with Qwen3's own template"


def test_scale_to_zero_service_has_no_no_target_alert():
    from components.observability import AlertThresholds
    from components.vllm import VllmServiceArgs, _monitoring

    base = {"name": "z", "model": "qwen3-0.6b", "replicas": 1, "maxReplicas": 3}
    always_on = _monitoring(VllmServiceArgs.model_validate(base), "ns", {"app": "z"})
    idle_ok = _monitoring(
        VllmServiceArgs.model_validate({**base, "scaleToZero": True, "activationQuery": "sum(rate(x[1m]))"}),
        "ns", {"app": "z"},
    )
    names = lambda c: {r.name for r in c.alert_rules(AlertThresholds())}  # noqa: E731
    assert "VllmNoTargetUp" in names(always_on)
    assert "VllmNoTargetUp" not in names(idle_ok)
