"""VllmService under the mock runtime: variants the reference stacks do not cover."""

from __future__ import annotations

import pulumi
import pytest

from components.vllm_service import VllmService, VllmServiceArgs
from slm_deploy.synth import SynthError, synthesize
from stacks.schema import ClusterCapabilities

SHA = "b" * 40


def _synth(args: dict, cluster: dict | None = None, *, hf_token: bool = False, api_key: bool = True, captured=None):
    def program():
        svc = VllmService(
            args["name"], VllmServiceArgs.model_validate(args),
            cluster=ClusterCapabilities.model_validate(cluster or {}), namespace="ns",
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
    res = _synth({"name": "svc", "model": "qwen3-0.6b", "replicas": 2, "maxReplicas": 4, "modelCache": "per-pod"})
    hpa = _by(res, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
    metric = hpa["metrics"][0]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == "vllm_num_requests_waiting"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "5"}
    assert not [r for r in res.resources if "ScaledObject" in r.type]
    vols = {v["name"]: v for v in _pod(res)["volumes"]}
    assert "emptyDir" in vols["model-cache"], "per-pod cache is an emptyDir"
    assert not [r for r in res.resources if "PersistentVolumeClaim" in r.type]
    strategy = _by(res, "kubernetes:apps/v1:Deployment").inputs["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def test_auto_cache_is_per_pod_without_rwx_and_shared_with_it():
    args = {"name": "svc", "model": "qwen3-0.6b", "replicas": 2, "maxReplicas": 4}
    assert not [r for r in _synth(args).resources if "PersistentVolumeClaim" in r.type]
    pvc = _by(_synth(args, {"rwxStorageClass": "nfs"}), "kubernetes:core/v1:PersistentVolumeClaim").inputs["spec"]
    assert pvc["accessModes"] == ["ReadWriteMany"] and pvc["storageClassName"] == "nfs"


def test_keda_scale_to_zero_has_activation_trigger():
    res = _synth({"name": "svc", "model": "qwen3-0.6b", "maxReplicas": 3, "scaleToZero": True,
                  "activationQuery": 'sum(rate(gateway_requests_total{model="q"}[1m]))', "modelCache": "per-pod"},
                 {"keda": True})
    so = _by(res, "kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    assert so["minReplicaCount"] == 0 and so["maxReplicaCount"] == 3
    assert [t["name"] for t in so["triggers"]] == ["queue-depth", "activation"]


def test_scale_to_zero_without_keda_fails_in_component():
    with pytest.raises(SynthError, match="scaleToZero needs KEDA"):
        _synth({"name": "svc", "model": "qwen3-0.6b", "maxReplicas": 3, "scaleToZero": True, "activationQuery": "up"})


def test_hf_token_is_a_secret_file_and_lora_adapters_download_pinned():
    res = _synth({"name": "svc", "model": "qwen3-4b", "loraAdapters": [{"name": "sql", "hfRepo": "me/qwen3-4b-sql-lora", "revision": SHA}]},
                 hf_token=True)
    secret = _by(res, "kubernetes:core/v1:Secret", "svc-hf-token").inputs
    assert secret["stringData"] == {"token": "[secret]"}
    pod = _pod(res)
    inits = {c["name"]: c for c in pod["initContainers"]}
    assert inits["lora-sql"]["args"] == ["me/qwen3-4b-sql-lora", "--revision", SHA, "--local-dir", "/models/lora/sql"]
    for c in inits.values():
        env = {e["name"]: e["value"] for e in c["env"]}
        assert env["HF_TOKEN_PATH"] == "/etc/hf-token/token"
        assert {m["mountPath"]: m.get("readOnly") for m in c["volumeMounts"]}["/etc/hf-token"] is True
    vllm = next(c for c in pod["containers"] if c["name"] == "vllm")
    assert "/etc/hf-token" not in [m["mountPath"] for m in vllm["volumeMounts"]], "the server never sees the token"
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
