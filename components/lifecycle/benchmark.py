"""The optional benchmark Job (``benchmark: {}`` on a vLLM service; off by default).

It runs the pinned image's own load generator, ``vllm bench serve`` (vLLM 0.11.0
``vllm/benchmarks/serve.py``), through the authenticating proxy at the concurrency sizing chose
(``--max-num-seqs``), then ``bench_report.py`` puts the result next to the prediction and merge-patches it
into the ConfigMap ``<name>-benchmark`` (key ``result.json``; Pulumi owns only ``predicted.json`` there,
so server-side apply leaves the Job's key alone). A read of that ConfigMap after the Job completes becomes
the component output ``benchmark``, which ``slm-deploy benchmarks STACK`` prints.

The prediction is a roofline, stated as such: decoding one token reads every weight once, so inter-token
latency is at least ``weights / (memory bandwidth × tensor-parallel size)`` and output throughput at most
``concurrency / that``. Measured over predicted is therefore >= 1 for latency and <= 1 for throughput; how
far says how much of the GPU the deployment gets.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ContainerArgs, EnvVarArgs, VolumeArgs, VolumeMountArgs
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs
from pydantic import BaseModel, ConfigDict, Field

from components.hardening import (
    container_security_context,
    egress_api_server,
    egress_to_pods,
    network_policy_spec,
    resources,
    scratch_volume,
)
from components.labels import selector_labels, standard_labels
from components.lifecycle.cache_fill import SCRIPTS_MOUNT, scripts_volume
from components.lifecycle.run_once import run_once_job
from components.lifecycle.verification import CLIENT_KEY_FILE, client_key_file

__all__ = ["BenchmarkArgs", "BenchmarkTarget", "benchmark_selector", "benchmark_job", "predicted"]

_RESULT_DIR = "/tmp/bench"
_SA_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class BenchmarkArgs(BaseModel):
    """``benchmark:`` in the stack file. ``benchmark: {}`` benchmarks every vLLM service with these defaults."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    services: list[str] = Field(default_factory=list, description="vLLM services (vllm[].name) to benchmark. Default: every vLLM service of the stack.")
    prompts_per_slot: int = Field(default=8, ge=1, le=100, alias="promptsPerSlot", description="Prompts sent per concurrent slot (--num-prompts = this × --max-concurrency). Default 8: enough requests for a p95.")
    input_tokens: int = Field(default=512, ge=16, le=32768, alias="inputTokens", description="Prompt length of the random dataset (--random-input-len). Default 512; capped by maxModelLen.")
    output_tokens: int = Field(default=128, ge=8, le=4096, alias="outputTokens", description="Tokens generated per request (--random-output-len, with --ignore-eos). Default 128.")


@dataclass(frozen=True)
class BenchmarkTarget:
    """What the benchmark Job needs to know about the deployed service."""

    instance: str
    namespace: str
    part_of: str
    image: str
    version: str
    base_url: str
    """http://<service or gateway>.<ns>.svc.cluster.local:8080 (no /v1: vllm bench adds the endpoint)."""
    served_model: str
    tokenizer_dir: str
    """The snapshot directory in the cache (a local path: no hub access)."""
    cache_claim: str
    cache_rwx: bool
    server_selector: dict[str, str]
    """The model server's pods (a ReadWriteOnce cache is mounted on their node only)."""
    peer_selector: dict[str, str]
    """The pods ``base_url`` reaches (the service's proxy, or the gateway): the Job's only egress besides DNS."""
    peer_port: int
    api_key_secret: tuple[str, str]
    concurrency: int
    max_model_len: int
    placement: dict
    api_server_cidrs: tuple[str, ...] = ()


def benchmark_selector(instance: str) -> dict[str, str]:
    return selector_labels("vllm-benchmark", instance)


def predicted(plan, bandwidth_gbs: float | None) -> dict:
    """The sizing side of the report: concurrency and, with the GPU's memory bandwidth, the roofline."""
    out: dict = {"peakConcurrentRequests": plan.max_num_seqs, "maxConcurrency": plan.max_num_seqs,
                 "basis": "roofline: every weight read once per decode step"}
    if bandwidth_gbs:
        itl_ms = plan.weights_bytes / (bandwidth_gbs * 1e9 * plan.tensor_parallel_size) * 1000
        out["itlP50Ms"] = round(itl_ms, 3)
        out["outputTokensPerSecond"] = round(plan.max_num_seqs * 1000 / itl_ms, 1)
    return out


def _bench_argv(t: BenchmarkTarget, b: BenchmarkArgs) -> list[str]:
    """``vllm bench serve`` flags, each one in vLLM 0.11.0 vllm/benchmarks/serve.py add_cli_args (docs/lifecycle.md)."""
    input_len = min(b.input_tokens, max(16, t.max_model_len - b.output_tokens - 16))
    return [
        "vllm", "bench", "serve",
        "--backend", "openai-chat", "--endpoint", "/v1/chat/completions", "--base-url", t.base_url,
        "--model", t.tokenizer_dir, "--served-model-name", t.served_model,
        "--dataset-name", "random", "--random-input-len", str(input_len), "--random-output-len", str(b.output_tokens),
        "--ignore-eos", "--num-prompts", str(b.prompts_per_slot * t.concurrency), "--max-concurrency", str(t.concurrency),
        "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,95,99",
        "--save-result", "--result-dir", _RESULT_DIR, "--result-filename", "result.json",
        "--ready-check-timeout-sec", "0", "--disable-tqdm",
    ]


def benchmark_job(t: BenchmarkTarget, b: BenchmarkArgs, prediction: dict, scripts_config_map: str,
                  opts: pulumi.ResourceOptions, key: str) -> tuple[k8s.batch.v1.Job, pulumi.Output]:
    """ConfigMap + RBAC + Job + NetworkPolicy; returns the Job and the read-back report (Output of a dict)."""
    name = f"{t.instance}-benchmark"
    labels = standard_labels("vllm-benchmark", t.instance, "benchmark", t.version, t.part_of)
    meta = lambda n: ObjectMetaArgs(name=n, namespace=t.namespace, labels=labels)  # noqa: E731
    results = k8s.core.v1.ConfigMap(name, metadata=meta(name),
                                    data={"predicted.json": json.dumps(prediction, sort_keys=True)}, opts=opts)
    sa = k8s.core.v1.ServiceAccount(name, metadata=meta(name), automount_service_account_token=False, opts=opts)
    role = k8s.rbac.v1.Role(name, metadata=meta(name), rules=[k8s.rbac.v1.PolicyRuleArgs(
        api_groups=[""], resources=["configmaps"], resource_names=[name], verbs=["get", "patch"])], opts=opts)
    binding = k8s.rbac.v1.RoleBinding(
        name, metadata=meta(name),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=name, namespace=t.namespace)], opts=opts)

    report = ["python3", f"{SCRIPTS_MOUNT}/bench_report.py", "--result", f"{_RESULT_DIR}/result.json",
              "--predicted", "/etc/slm-deploy/benchmark/predicted.json", "--model", t.served_model,
              "--configmap", name, "--namespace", t.namespace]
    # vllm bench reads the key from OPENAI_API_KEY only (lib/endpoint_request_func.py); it is exported from
    # the mounted Secret file inside the container, never set in the pod spec.
    script = "set -eu; OPENAI_API_KEY=\"$(cat {key})\"; export OPENAI_API_KEY; {bench}; exec {report}".format(
        key=CLIENT_KEY_FILE, bench=shlex.join(_bench_argv(t, b)), report=shlex.join(report))
    key_vol, key_mount = client_key_file(t.api_key_secret)
    tmp_vol, tmp_mount = scratch_volume("tmp", "/tmp", size_limit="2Gi")
    scripts_vol, scripts_mount = scripts_volume(scripts_config_map)
    token = VolumeArgs(name="sa-token", projected={"default_mode": 0o444, "sources": [
        {"service_account_token": {"path": "token", "expiration_seconds": 3600}},
        {"config_map": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    ]})
    volumes = [
        VolumeArgs(name="cache", persistent_volume_claim={"claim_name": t.cache_claim, "read_only": True}),
        scripts_vol,
        VolumeArgs(name="predicted", config_map={"name": name, "items": [{"key": "predicted.json", "path": "predicted.json"}],
                                                 "default_mode": 0o444}),
        key_vol, tmp_vol, token,
    ]
    mounts = [
        VolumeMountArgs(name="cache", mount_path="/models", read_only=True),
        scripts_mount,
        VolumeMountArgs(name="predicted", mount_path="/etc/slm-deploy/benchmark", read_only=True),
        key_mount, tmp_mount, VolumeMountArgs(name="sa-token", mount_path=_SA_TOKEN_DIR, read_only=True),
    ]
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HOME": "/tmp/home", "XDG_CACHE_HOME": "/tmp/.cache",
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    placement = dict(t.placement)
    if not t.cache_rwx:  # a ReadWriteOnce cache is mounted on the serving pods' node only
        placement["affinity"] = {**(placement.get("affinity") or {}), "pod_affinity": {
            "required_during_scheduling_ignored_during_execution": [{
                "label_selector": {"match_labels": t.server_selector}, "topology_key": "kubernetes.io/hostname"}]}}
    job = run_once_job(
        f"{name}-{key}", meta(f"{name}-{key}"), labels,
        containers=[ContainerArgs(
            name="benchmark", image=t.image, image_pull_policy="IfNotPresent",
            command=["/bin/sh", "-c"], args=[script],
            env=[EnvVarArgs(name=k, value=v) for k, v in env.items()],
            volume_mounts=mounts,
            resources=resources("2", "4Gi", cpu_limit="4", memory_limit="8Gi"),
            security_context=container_security_context(),
        )],
        volumes=volumes, deadline_seconds=1800, wait_margin_seconds=300,
        pod_spec={"service_account_name": name, **placement},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[results, sa, role, binding])),
    )
    k8s.networking.v1.NetworkPolicy(
        name, metadata=meta(name),
        spec=network_policy_spec(benchmark_selector(t.instance), ingress=[],
                                 egress=[egress_to_pods([t.peer_selector], [t.peer_port]),
                                         egress_api_server(t.api_server_cidrs)]),
        opts=opts,
    )
    # The id waits for the Job: during a preview of a new Job it is unknown, so nothing is read before the
    # Job (and the ConfigMap it patches) exists; during `pulumi up` the read runs after the Job completed.
    read_id = job.metadata.apply(lambda _m: f"{t.namespace}/{name}")
    read = k8s.core.v1.ConfigMap.get(f"{name}-result", read_id,
                                     opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[job])))
    result = read.data.apply(lambda d: json.loads((d or {}).get("result.json") or "null"))
    return job, result
