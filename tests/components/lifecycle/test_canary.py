"""A canary behind the ModelGateway under the mock runtime (docs/lifecycle.md, "Canary"): the canary revision's own
cache and fill Job (the very objects promotion keeps), its Deployment and NetworkPolicy, the track labels, one
router per canary in the gateway pod and the split in the proxy's config. The split itself runs for real in
tests/gateway/test_canary_split.py."""

from __future__ import annotations

import pytest

from components.context import ClusterCapabilities, Peer, StackContext
from components.gateway import GatewayArgs, GatewayCanary, ModelGateway
from components.labels import TRACK_LABEL, selector_labels
from components.vllm import VllmService, VllmServiceArgs
from components.vllm.canary import canary_name
from slm_deploy.synth import synthesize

JOB = "kubernetes:batch/v1:Job"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
DEPLOY = "kubernetes:apps/v1:Deployment"
CM = "kubernetes:core/v1:ConfigMap"
GATEWAY_PODS = selector_labels("model-gateway", "gateway")
STABLE, CANARY = "a" * 40, "b" * 40
SVC = {"name": "svc", "model": "qwen3-0.6b", "revision": STABLE, "replicas": 2}


def _program(spec: dict, share: int | None):
    def program():
        ctx = StackContext(namespace="ns", cluster=ClusterCapabilities(rwxStorageClass="nfs"), gateway=Peer(GATEWAY_PODS))
        args = VllmServiceArgs.model_validate(spec)
        canaries = [GatewayCanary(canary_name("svc"), (args.served_name,), share)] if share is not None else []
        gateway = ModelGateway("gateway", GatewayArgs(), ctx, models=[args.served_name], canaries=canaries)
        VllmService("svc", args, ctx, gateway=gateway.endpoint)
    return program


@pytest.fixture(scope="module")
def res():
    return synthesize(_program({**SVC, "canary": 25, "canaryRevision": CANARY}, 25), project="slm-deploy", stack="t")


def _one(res, typ: str, name: str):
    found = [r for r in res.resources if r.type == typ and r.name == name]
    assert len(found) == 1, [r.name for r in res.resources if r.type == typ]
    return found[0]


def _pod(deploy) -> dict:
    return deploy.inputs["spec"]["template"]


def _argv(container: dict) -> list[str]:
    return container["command"] + container["args"]


def test_the_canary_deployment_serves_the_canary_revision_from_its_own_cache(res):
    deploy = _one(res, DEPLOY, "svc-canary")
    spec = deploy.inputs["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    assert spec["selector"]["matchLabels"] == selector_labels("vllm", "svc-canary")
    labels = _pod(deploy)["metadata"]["labels"]
    assert labels[TRACK_LABEL] == "canary" and labels["app.kubernetes.io/component"] == "model-server"
    [server] = _pod(deploy)["spec"]["containers"]
    argv = _argv(server)
    assert argv[argv.index("--revision") + 1] == CANARY
    assert argv[argv.index("--served-model-name") + 1] == "qwen3-0.6b"
    [cache] = [v for v in _pod(deploy)["spec"]["volumes"] if v["name"] == "model-cache"]
    assert cache["persistentVolumeClaim"] == {"claimName": f"svc-cache-{CANARY[:12]}", "readOnly": True}
    assert {f"{PVC}::svc-cache-{CANARY[:12]}", f"{JOB}::svc-fill-{CANARY[:12]}"} <= set(deploy.depends_on)
    fill = _one(res, JOB, f"svc-fill-{CANARY[:12]}")
    download = fill.inputs["spec"]["template"]["spec"]["initContainers"][0]
    assert _argv(download)[_argv(download).index("--revision") + 1] == CANARY


def test_the_stable_deployment_keeps_its_revision_and_is_on_the_stable_track(res):
    deploy = _one(res, DEPLOY, "svc")
    assert _pod(deploy)["metadata"]["labels"][TRACK_LABEL] == "stable"
    assert deploy.inputs["spec"]["selector"]["matchLabels"] == selector_labels("vllm", "svc"), "selectors are immutable"
    [server] = _pod(deploy)["spec"]["containers"]
    assert _argv(server)[_argv(server).index("--revision") + 1] == STABLE
    # The stable selector does not pick up the canary's pods (its Service, PDB and autoscaler neither).
    canary_labels = _pod(_one(res, DEPLOY, "svc-canary"))["metadata"]["labels"]
    assert not deploy.inputs["spec"]["selector"]["matchLabels"].items() <= canary_labels.items()


def test_the_canary_admits_only_the_gateway_and_prometheus_and_reaches_only_dns(res):
    policy = _one(res, NP, "svc-canary").inputs["spec"]
    assert policy["podSelector"]["matchLabels"] == selector_labels("vllm", "svc-canary")
    peers = [(rule["from"][0]["podSelector"]["matchLabels"], [p["port"] for p in rule["ports"]]) for rule in policy["ingress"]]
    assert peers == [(GATEWAY_PODS, [8000]), ({"app.kubernetes.io/name": "prometheus"}, [8000])]
    [dns] = policy["egress"]
    assert [p["port"] for p in dns["ports"]] == [53, 53]


def test_the_gateway_runs_one_router_per_track_and_splits_in_the_proxy(res):
    pod = _pod(_one(res, DEPLOY, "gateway"))["spec"]
    routers = {c["name"]: c for c in pod["containers"] if "vllm_router.launch_router" in c["args"]}
    assert list(routers) == ["router", "router-canary-0"]

    def selector(c: dict) -> list[str]:
        args = c["args"]
        start = args.index("--selector") + 1
        return args[start:args.index("--service-discovery-namespace")]

    assert f"{TRACK_LABEL}=stable" in selector(routers["router"])
    assert {f"{TRACK_LABEL}=canary", "app.kubernetes.io/instance=svc-canary"} <= set(selector(routers["router-canary-0"]))
    canary = routers["router-canary-0"]["args"]
    assert canary[canary.index("--port") + 1] == "8002" and canary[canary.index("--prometheus-port") + 1] == "29001"
    assert routers["router-canary-0"]["ports"] == [{"name": "canary-0", "containerPort": 29001, "protocol": "TCP"}]
    conf = _one(res, CM, "gateway-files").inputs["data"]["nginx.conf"]
    assert 'js_var $gw_canaries "0:25:qwen3-0.6b";' in conf
    assert "upstream gw_canary_0 {\n        server 127.0.0.1:8002;" in conf and "location @canary_0 {" in conf
    prometheus = _one(res, NP, "gateway").inputs["spec"]["ingress"][1]
    assert [p["port"] for p in prometheus["ports"]] == [9145, 29000, 29001]


def test_promotion_keeps_the_canary_cache_and_fill_job():
    """Promote: revision = the canary's, canary removed. The cache and fill Job are the same resources with the
    same inputs, so nothing is downloaded again; only the canary Deployment and its policy go away."""
    before = synthesize(_program({**SVC, "canary": 100, "canaryRevision": CANARY}, 100), project="slm-deploy", stack="t")
    after = synthesize(_program({**SVC, "revision": CANARY}, None), project="slm-deploy", stack="t")
    for typ, name in ((PVC, f"svc-cache-{CANARY[:12]}"), (JOB, f"svc-fill-{CANARY[:12]}")):
        assert _one(before, typ, name).inputs == _one(after, typ, name).inputs, name
    assert not [r for r in after.resources if r.name.startswith("svc-canary")]
    assert _one(after, DEPLOY, "svc").inputs["spec"]["template"]["metadata"]["labels"][TRACK_LABEL] == "stable"


def test_canary_shares_reach_the_proxy_exactly():
    for share in (0, 100):
        res = synthesize(_program({**SVC, "canary": share, "canaryRevision": CANARY}, share), project="slm-deploy", stack="t")
        conf = _one(res, CM, "gateway-files").inputs["data"]["nginx.conf"]
        assert f'js_var $gw_canaries "0:{share}:qwen3-0.6b";' in conf
