"""VllmService's lifecycle under the mock runtime: Job -> Deployment edges, NetworkPolicies per pod role,
caches keyed by revision, surge / recreate / blue-green rollouts, sources, smoke and benchmark Jobs."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.context import ClusterCapabilities, StackContext
from components.lifecycle.benchmark import BenchmarkArgs
from components.vllm import VllmService, VllmServiceArgs
from slm_deploy.synth import synthesize

SHA_A = "a" * 40
SHA_B = "b" * 40
DEPLOY = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SVC = "kubernetes:core/v1:Service"
PUBLIC_EXCEPT = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]


def synth(args: dict, cluster: dict | None = None, *, bench: dict | None = None, timeouts: dict | None = None):
    def program():
        if timeouts is not None:  # what pulumi-kubernetes is told to wait for (not in the inputs)
            def record(a: pulumi.ResourceTransformationArgs):
                ct = a.opts.custom_timeouts if a.opts else None
                if ct is not None:
                    timeouts[f"{a.type_}::{a.name}"] = (ct.create, ct.update)
            pulumi.runtime.register_stack_transformation(record)
        VllmService(args["name"], VllmServiceArgs.model_validate(args),
                    StackContext(namespace="ns", cluster=ClusterCapabilities.model_validate(cluster or {})),
                    api_key=pulumi.Output.secret("k" * 24),
                    benchmark=BenchmarkArgs.model_validate(bench) if bench is not None else None)
    return synthesize(program, project="slm-deploy", stack="t")


def one(res, typ: str, prefix: str):
    """The one resource of ``typ`` named ``prefix`` (a prefix when it ends with '-')."""
    found = [r for r in res.resources if r.type == typ and (r.name.startswith(prefix) if prefix.endswith("-") else r.name == prefix)]
    assert len(found) == 1, [r.name for r in res.resources if r.type == typ]
    return found[0]


def egress_ports(policy) -> list:
    return [p["port"] for rule in policy.inputs["spec"]["egress"] for p in rule["ports"]]


QWEN = {"name": "svc", "model": "qwen3-0.6b", "revision": SHA_A}


def test_the_deployment_depends_on_the_fill_job_and_its_cache():
    res = synth(QWEN)
    deploy = one(res, DEPLOY, "svc")
    assert f"{JOB}::svc-fill-{SHA_A[:12]}" in deploy.depends_on
    assert f"{PVC}::svc-cache-{SHA_A[:12]}" in deploy.depends_on
    fill = one(res, JOB, "svc-fill-")
    assert f"{PVC}::svc-cache-{SHA_A[:12]}" in fill.depends_on and f"kubernetes:core/v1:ConfigMap::svc-lifecycle" in fill.depends_on
    smoke = one(res, JOB, "svc-smoke-")
    assert {f"{DEPLOY}::svc", f"{SVC}::svc", f"{NP}::svc"} <= set(smoke.depends_on), "smoke runs after the rollout"


def test_jobs_carry_custom_timeouts_above_their_own_deadline():
    timeouts: dict = {}
    res = synth(QWEN, timeouts=timeouts)
    fill = one(res, JOB, "svc-fill-")
    deadline = fill.inputs["spec"]["activeDeadlineSeconds"]
    assert timeouts[f"{JOB}::{fill.name}"] == (f"{deadline + 300}s", f"{deadline + 300}s")
    assert deadline > 600, "longer than pulumi-kubernetes' 10-minute default await"
    smoke = one(res, JOB, "svc-smoke-")
    assert timeouts[f"{JOB}::{smoke.name}"][0] == f"{smoke.inputs['spec']['activeDeadlineSeconds'] + 120}s"


def test_network_policies_per_pod_role():
    res = synth(QWEN, {"apiServerCidrs": ["203.0.113.10/32"]}, bench={})
    serving = one(res, NP, "svc").inputs["spec"]
    assert serving["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "svc"}
    assert egress_ports(one(res, NP, "svc")) == [53, 53], "serving: DNS only"
    admitted = [p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") for r in serving["ingress"] for p in r["from"]]
    assert {"vllm-smoke", "vllm-benchmark"} <= set(admitted)
    fill = one(res, NP, "svc-fill-").inputs["spec"]
    assert fill["ingress"] == [] and fill["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "vllm-cache-fill"
    [https] = [r for r in fill["egress"] if r["ports"] == [{"protocol": "TCP", "port": 443}]]
    assert https["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [*PUBLIC_EXCEPT, "203.0.113.10/32"]}}]
    smoke = one(res, NP, "svc-smoke-").inputs["spec"]
    assert smoke["ingress"] == []
    assert smoke["egress"][1] == {"to": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "svc"}}}], "ports": [{"protocol": "TCP", "port": 8080}]}
    bench = one(res, NP, "svc-benchmark").inputs["spec"]
    api = bench["egress"][2]
    assert [p["port"] for p in api["ports"]] == [443, 6443]
    assert [t["ipBlock"]["cidr"] for t in api["to"]] == ["203.0.113.10/32"], "the declared API server only"
    undeclared = one(synth(QWEN, bench={}), NP, "svc-benchmark").inputs["spec"]["egress"][2]
    assert [t["ipBlock"]["cidr"] for t in undeclared["to"]] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def test_the_serving_pod_mounts_its_revision_cache_read_only_and_downloads_nothing():
    pod = one(synth(QWEN), DEPLOY, "svc").inputs["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["model-cache"]["persistentVolumeClaim"] == {"claimName": f"svc-cache-{SHA_A[:12]}", "readOnly": True}
    vllm = next(c for c in pod["containers"] if c["name"] == "vllm")
    assert {m["name"]: m.get("readOnly") for m in vllm["volumeMounts"]}["model-cache"] is True
    assert {e["name"]: e["value"] for e in vllm["env"]}["HF_HUB_OFFLINE"] == "1"


def test_each_revision_has_its_own_cache_and_job():
    a, b = synth(QWEN), synth({**QWEN, "revision": SHA_B})
    for res, sha in ((a, SHA_A), (b, SHA_B)):
        assert one(res, PVC, "svc-cache-").name == f"svc-cache-{sha[:12]}"
        job = one(res, JOB, "svc-fill-")
        assert job.name == f"svc-fill-{sha[:12]}"
        steps = job.inputs["spec"]["template"]["spec"]
        download = steps["initContainers"][0]
        assert download["args"][download["args"].index("--revision") + 1] == sha
        claim = next(v for v in steps["volumes"] if v["name"] == "cache")["persistentVolumeClaim"]["claimName"]
        assert claim == f"svc-cache-{sha[:12]}"
    with_adapter = synth({**QWEN, "loraAdapters": [{"name": "sql", "hfRepo": "me/lora", "revision": SHA_B}]})
    key = one(with_adapter, PVC, "svc-cache-").name.removeprefix("svc-cache-")
    assert key.startswith(SHA_A[:8] + "-") and key != SHA_A[:12], "adapter revisions key the cache too"


def test_default_rollout_is_recreate_without_spare_gpus_and_surge_with_them():
    strategy = lambda res: one(res, DEPLOY, "svc").inputs["spec"]["strategy"]  # noqa: E731
    assert strategy(synth(QWEN)) == {"type": "Recreate"}
    surge = synth(QWEN, {"spareGpus": 1, "rwxStorageClass": "nfs"})
    assert strategy(surge) == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert one(surge, PVC, "svc-cache-").inputs["spec"]["accessModes"] == ["ReadWriteMany"]
    many = synth({**QWEN, "replicas": 2, "rollout": "recreate"}, {"rwxStorageClass": "nfs"})
    assert strategy(many) == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def test_blue_green_runs_a_deployment_per_revision_and_switches_the_service_when_ready():
    for sha in (SHA_A, SHA_B):
        res = synth({**QWEN, "revision": sha, "rollout": "blue-green"})
        colour = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "svc", "slm-deploy.io/revision": sha[:12]}
        deploy = one(res, DEPLOY, f"svc-{sha[:12]}")
        assert deploy.inputs["spec"]["selector"]["matchLabels"] == colour
        assert deploy.inputs["spec"]["template"]["metadata"]["labels"]["slm-deploy.io/revision"] == sha[:12]
        service = one(res, SVC, "svc")
        assert service.inputs["spec"]["selector"] == colour
        assert f"{DEPLOY}::svc-{sha[:12]}" in service.depends_on, "the selector moves once the new colour is ready"
        assert f"{JOB}::svc-fill-{sha[:12]}" in deploy.depends_on
        # autoscaling and disruption budget follow the colour's Deployment
        pdb = one(res, "kubernetes:policy/v1:PodDisruptionBudget", "svc").inputs["spec"]["selector"]["matchLabels"]
        assert pdb.items() <= colour.items()


def test_mirror_source_with_ca_bundle_and_private_addresses():
    res = synth({**QWEN, "source": {"mirror": "https://hf.mirror.internal:8443", "caBundleSecret": "mirror-ca",
                                    "egressCidrs": ["10.40.0.0/16"]}})
    spec = one(res, JOB, "svc-fill-").inputs["spec"]["template"]["spec"]
    download = spec["initContainers"][0]
    env = {e["name"]: e["value"] for e in download["env"]}
    assert env["HF_ENDPOINT"] == "https://hf.mirror.internal:8443" and env["HF_HUB_DISABLE_XET"] == "1"
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == "/etc/slm-deploy/ca/ca.crt"
    ca = next(v for v in spec["volumes"] if v["name"] == "ca-bundle")
    assert ca["secret"]["secretName"] == "mirror-ca"
    policy = one(res, NP, "svc-fill-").inputs["spec"]
    assert policy["egress"][1] == {"to": [{"ipBlock": {"cidr": "10.40.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 8443}]}


def test_s3_source_syncs_with_the_pinned_client_and_verifies_against_the_manifest():
    res = synth({**QWEN, "source": {"s3": {"endpoint": "https://minio.storage:9000", "bucket": "models",
                                           "prefix": "qwen3-0.6b/" + SHA_A, "credentialsSecret": "s3-creds"}}})
    spec = one(res, JOB, "svc-fill-").inputs["spec"]["template"]["spec"]
    fetch, verify = spec["initContainers"][0], spec["containers"][0]
    assert fetch["image"].startswith("docker.io/amazon/aws-cli:2.31.13@sha256:")
    snapshot = f"/models/hub/models--Qwen--Qwen3-0.6B/snapshots/{SHA_A}"
    assert fetch["command"] + fetch["args"] == ["aws", "s3", "sync", f"s3://models/qwen3-0.6b/{SHA_A}", snapshot,
                                                "--endpoint-url", "https://minio.storage:9000", "--only-show-errors", "--no-progress"]
    env = {e["name"]: e["value"] for e in fetch["env"]}
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/etc/slm-deploy/s3/credentials"
    argv = verify["command"] + verify["args"]
    assert argv[argv.index("--manifest") + 1] == f"{snapshot}/slm-manifest.json"


def test_prefilled_claim_has_no_job_and_is_not_created():
    res = synth({**QWEN, "source": {"prefilledClaim": "qwen-weights"}})
    assert not [r for r in res.resources if r.type == JOB and "-fill-" in r.name]
    assert not [r for r in res.resources if r.type == PVC]
    deploy = one(res, DEPLOY, "svc")
    assert not [d for d in deploy.depends_on if d.startswith(JOB)]


def test_smoke_job_calls_the_proxy_with_the_client_key_file():
    res = synth({**QWEN, "servedModelName": "small"})
    pod = one(res, JOB, "svc-smoke-").inputs["spec"]["template"]["spec"]
    [c] = pod["containers"]
    argv = c["command"] + c["args"]
    assert argv[:2] == ["python3", "/opt/slm-deploy/smoke_check.py"]
    assert argv[argv.index("--base-url") + 1] == "http://svc.ns.svc.cluster.local:8080/v1"
    assert argv[argv.index("--model") + 1] == "small" and argv[argv.index("--key-file") + 1] == "/etc/slm-deploy/client-key/api-key"
    key = next(v for v in pod["volumes"] if v["name"] == "client-key")["secret"]
    assert key["secretName"] == "svc-api-key" and key["items"] == [{"key": "api-key", "path": "api-key"}]
    assert c["image"].startswith("docker.io/library/python:3.12-slim@sha256:")
    assert not any("valueFrom" in e for e in c.get("env", []))


def test_benchmark_job_runs_the_pinned_vllm_bench_at_the_sized_concurrency():
    args = VllmServiceArgs.model_validate(QWEN)
    res = synth(QWEN, bench={"inputTokens": 256, "outputTokens": 64})
    job = one(res, JOB, "svc-benchmark-")
    pod = job.inputs["spec"]["template"]["spec"]
    [c] = pod["containers"]
    script = c["args"][0]
    assert c["command"] == ["/bin/sh", "-c"] and 'OPENAI_API_KEY="$(cat /etc/slm-deploy/client-key/api-key)"' in script
    assert f"--max-concurrency {args.plan.max_num_seqs} " in script
    assert f"--num-prompts {8 * args.plan.max_num_seqs} " in script
    assert "--random-input-len 256 --random-output-len 64" in script
    assert "--base-url http://svc.ns.svc.cluster.local:8080" in script
    assert f"--model /models/hub/models--Qwen--Qwen3-0.6B/snapshots/{SHA_A} --served-model-name qwen3-0.6b" in script
    assert "--percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,95,99" in script
    assert "exec python3 /opt/slm-deploy/bench_report.py" in script
    assert pod["serviceAccountName"] == "svc-benchmark" and pod["automountServiceAccountToken"] is False
    assert "nvidia.com/gpu" not in c["resources"]["limits"], "a load generator needs no GPU"
    predicted = json.loads(one(res, "kubernetes:core/v1:ConfigMap", "svc-benchmark").inputs["data"]["predicted.json"])
    assert predicted["peakConcurrentRequests"] == args.plan.max_num_seqs
    assert predicted["itlP50Ms"] == round(args.plan.weights_bytes / 300e9 * 1000, 3), "roofline on an L4 (300 GB/s)"
    role = one(res, "kubernetes:rbac.authorization.k8s.io/v1:Role", "svc-benchmark").inputs
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["svc-benchmark"],
                              "verbs": ["get", "patch"]}]
    assert f"{JOB}::svc-smoke-" not in job.depends_on
    assert {f"{DEPLOY}::svc", f"{SVC}::svc"} <= set(job.depends_on)
    # The read-back of the results ConfigMap is not an object Pulumi applies: never rendered or gated.
    assert [r.name for r in res.resources if r.name == "svc-benchmark-result"] == []


@pytest.mark.parametrize("bench", [None, {}])
def test_benchmark_is_off_by_default(bench):
    res = synth(QWEN, bench=bench)
    assert bool([r for r in res.resources if r.type == JOB and "-benchmark-" in r.name]) is (bench is not None)
