"""Behind a ModelGateway the smoke and benchmark Jobs are gateway clients (docs/lifecycle.md, "Behind the
gateway"): they call the gateway with its slm-verify key from a Secret file, reach nothing else, wait for the
gateway and the model server, and the model servers keep admitting only the gateway and Prometheus."""

from __future__ import annotations

import re

import pytest

from components.context import ClusterCapabilities, Peer, StackContext
from components.gateway import GatewayArgs, ModelGateway
from components.gateway.constants import VERIFY_CLIENT
from components.labels import selector_labels
from components.lifecycle.benchmark import BenchmarkArgs
from components.vllm import VllmService, VllmServiceArgs
from slm_deploy.synth import synthesize
from tests.conftest import stack_problems

JOB = "kubernetes:batch/v1:Job"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOY = "kubernetes:apps/v1:Deployment"
GATEWAY_PODS = selector_labels("model-gateway", "gateway")
GATEWAY_URL = "http://gateway.ns.svc.cluster.local:8080"
QWEN = {"name": "svc", "model": "qwen3-0.6b", "revision": "a" * 40}


@pytest.fixture(scope="module")
def res():
    def program():
        ctx = StackContext(namespace="ns", cluster=ClusterCapabilities(), gateway=Peer(GATEWAY_PODS))
        args = VllmServiceArgs.model_validate(QWEN)
        gateway = ModelGateway("gateway", GatewayArgs(), ctx, models=[args.served_name],
                               verify_concurrency=args.plan.max_num_seqs)
        VllmService("svc", args, ctx, benchmark=BenchmarkArgs(), gateway=gateway.endpoint)
    return synthesize(program, project="slm-deploy", stack="t")


def _one(res, typ: str, prefix: str):
    found = [r for r in res.resources if r.type == typ and r.name.startswith(prefix)]
    assert len(found) == 1, [r.name for r in res.resources if r.type == typ]
    return found[0]


def _key_volume(pod: dict) -> dict:
    return next(v for v in pod["volumes"] if v["name"] == "client-key")["secret"]


def _egress_peers(policy) -> list:
    return [(rule.get("to"), [p["port"] for p in rule["ports"]]) for rule in policy.inputs["spec"]["egress"]]


def test_smoke_job_calls_the_gateway_with_the_verify_key_file(res):
    job = _one(res, JOB, "svc-smoke-")
    pod = job.inputs["spec"]["template"]["spec"]
    [c] = pod["containers"]
    argv = c["command"] + c["args"]
    assert argv[argv.index("--base-url") + 1] == f"{GATEWAY_URL}/v1"
    assert argv[argv.index("--key-file") + 1] == "/etc/slm-deploy/client-key/api-key"
    key = _key_volume(pod)
    assert key["secretName"] == f"gateway-client-{VERIFY_CLIENT}" and key["items"] == [{"key": "api-key", "path": "api-key"}]
    assert not any("valueFrom" in e for e in c.get("env", []))
    # after the model server and the gateway are ready
    assert {f"{DEPLOY}::svc", f"{DEPLOY}::gateway", "kubernetes:core/v1:Service::gateway",
            f"kubernetes:core/v1:Secret::gateway-client-{VERIFY_CLIENT}"} <= set(job.depends_on)


def test_smoke_and_benchmark_reach_only_the_gateway(res):
    smoke = _one(res, NP, "svc-smoke-")
    [dns, gw] = _egress_peers(smoke)
    assert dns[1] == [53, 53]
    assert gw == ([{"podSelector": {"matchLabels": GATEWAY_PODS}}], [8080])
    bench = next(r for r in res.resources if r.type == NP and r.name == "svc-benchmark")
    peers = _egress_peers(bench)
    assert ([{"podSelector": {"matchLabels": GATEWAY_PODS}}], [8080]) in peers
    assert not any(to and any("podSelector" in p and p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") == "vllm"
                              for p in to) for to, _ in peers), "the benchmark never calls the model server directly"


def test_benchmark_runs_through_the_gateway_with_the_verify_key(res):
    job = _one(res, JOB, "svc-benchmark-")
    pod = job.inputs["spec"]["template"]["spec"]
    script = pod["containers"][0]["args"][0]
    assert f"--base-url {GATEWAY_URL} " in script
    assert _key_volume(pod)["secretName"] == f"gateway-client-{VERIFY_CLIENT}"
    assert {f"{DEPLOY}::svc", f"{DEPLOY}::gateway"} <= set(job.depends_on)


def test_model_server_admits_only_the_gateway_and_prometheus(res):
    policy = next(r for r in res.resources if r.type == NP and r.name == "svc")
    sources = [rule["from"][0]["podSelector"]["matchLabels"] for rule in policy.inputs["spec"]["ingress"]]
    assert sources == [GATEWAY_PODS, {"app.kubernetes.io/name": "prometheus"}]
    assert [p["port"] for rule in policy.inputs["spec"]["ingress"] for p in rule["ports"]] == [8000, 8000]


def test_verify_client_is_sized_for_the_benchmark_on_every_replica(res):
    """Limits are split across the 2 gateway replicas; one Job's connections may all land on one, so each replica
    admits the benchmark's whole sized concurrency (and 120 requests per minute per slot)."""
    seqs = VllmServiceArgs.model_validate(QWEN).plan.max_num_seqs
    conf = next(r for r in res.resources if r.name == "gateway-files").inputs["data"]["nginx.conf"]
    [k] = re.findall(rf'map \$gw_client \$gw_key_(\d+) {{\s*default "";\s*"{VERIFY_CLIENT}" \$gw_client;', conf)
    assert re.search(rf"zone=gw_rpm_{k}:1m rate={120 * seqs}r/m;", conf)
    assert f"limit_conn gw_conn_{k} {seqs};" in conf


def test_a_stack_client_may_not_take_the_verify_name(scratch_project):
    [line] = stack_problems(
        scratch_project, "config:\n  slm-deploy:vllm:\n    - {name: a, model: qwen3-0.6b}\n"
        "    - {name: b, model: phi-4-mini-instruct}\n  slm-deploy:cluster:\n    rwxStorageClass: nfs\n"
        "  slm-deploy:gateway:\n    clients:\n      - {name: slm-verify, models: [qwen3-0.6b], rpm: 1, concurrency: 1}\n")
    assert line.startswith("stacks/Pulumi.t.yaml:") and "client name slm-verify is reserved" in line, line
