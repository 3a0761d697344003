"""cluster.inferenceGateway (Gateway API Inference Extension v1.0.0): the prod stack with the capability, rendered and
gated for real; every InferencePool and HTTPRoute valid against the vendored CRDs, a broken one refused by the gate;
bad input as one located line. (The proxy in front of a stand-in Gateway runs in real nginx: test_gaie_live.py.)"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from slm_deploy.gate.schema_validation import CRD_DIR, crd_kinds, validate_objects
from tests.conftest import stack_problems

from .gaie_stack import GAIE

DATA_PLANE = {"gateway.networking.k8s.io/gateway-name": "inference-gateway"}
DATA_PLANE_NS = {"kubernetes.io/metadata.name": "gateway-system"}


def _manifests(build: Path, kind: str) -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((build / "manifests").glob(f"*.{kind}.*.yaml"))}


def _one(build: Path, kind: str, name: str) -> dict:
    return yaml.safe_load((build / "manifests" / f"slm-prod.{kind}.{name}.yaml").read_text())


def test_vendored_crds_match_their_source_records():
    for crd in sorted(CRD_DIR.glob("*.yaml")):
        source = yaml.safe_load(crd.with_name(crd.name + ".source").read_text())
        assert hashlib.sha256(crd.read_bytes()).hexdigest() == source["sha256"], crd.name
        assert source["path"].endswith(crd.name) and len(source["commit"]) == 40 and source["tag"]
    assert set(crd_kinds()) == {("inference.networking.k8s.io/v1", "InferencePool"),
                                ("gateway.networking.k8s.io/v1", "HTTPRoute"),
                                ("gateway.networking.k8s.io/v1beta1", "HTTPRoute")}


def test_gaie_stack_renders_pools_route_and_pickers_instead_of_the_router(gaie_build):
    pools = _manifests(gaie_build, "inferencepool")
    assert sorted(pools) == ["slm-prod.inferencepool.gateway-phi4-mini.yaml", "slm-prod.inferencepool.gateway-qwen3-8b.yaml"]
    pool = pools["slm-prod.inferencepool.gateway-qwen3-8b.yaml"]["spec"]
    assert pool == {"targetPorts": [{"number": 8000}],
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/component": "model-server",
                                                 "app.kubernetes.io/instance": "qwen3-8b", "slm-deploy.io/track": "stable"}},
                    "endpointPickerRef": {"name": "gateway-qwen3-8b-epp", "port": {"number": 9002}}}
    [route] = _manifests(gaie_build, "httproute").values()
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                           "name": "inference-gateway", "namespace": "gateway-system"}]
    rules = {r["backendRefs"][0]["name"]: r for r in route["spec"]["rules"]}
    assert rules["gateway-phi4-mini"]["matches"] == [{"path": {"type": "PathPrefix", "value": "/v1/"}, "headers": [
        {"type": "Exact", "name": "X-Gateway-Model-Name", "value": "phi-4-mini-instruct"}]}]
    assert rules["gateway-qwen3-8b"]["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool",
                                                         "name": "gateway-qwen3-8b"}]
    # No router: no router container, install Job or volume, discovery Role; the proxy forwards to the Gateway.
    gateway = _one(gaie_build, "deployment", "gateway")["spec"]["template"]["spec"]
    assert [c["name"] for c in gateway["containers"]] == ["proxy", "exporter"]
    names = [p.name for p in (gaie_build / "manifests").iterdir()]
    assert not [n for n in names if "router" in n or "gateway-discovery" in n], names
    conf = (gaie_build / "files" / "gateway-files" / "nginx.conf").read_text()
    assert "server inference-gateway-istio.gateway-system.svc.cluster.local:80;" in conf
    assert "proxy_set_header X-Gateway-Model-Name $gw_model;" in conf and "vllm_router" not in conf
    # The picker: pinned by digest, the chart's flags plus what vLLM 0.11.0 needs, hardened, its own token only.
    epp = _one(gaie_build, "deployment", "gateway-qwen3-8b-epp")["spec"]["template"]["spec"]
    [container] = epp["containers"]
    assert container["image"].endswith("@sha256:02ac1468dbb281d4c5b364362b662fdc31ec261fe46ccb3d8e0b2f1d8c1f9c28")
    assert container["args"][:4] == ["--pool-name", "gateway-qwen3-8b", "--pool-namespace", "slm-prod"]
    assert "vllm:kv_cache_usage_perc" in container["args"] and "--enable-pprof=false" in container["args"]
    assert epp["automountServiceAccountToken"] is False and container["securityContext"]["readOnlyRootFilesystem"]
    role = _one(gaie_build, "role", "gateway-qwen3-8b-epp")
    assert {(tuple(r["apiGroups"]), tuple(r["resources"])) for r in role["rules"]} == {
        (("inference.networking.x-k8s.io",), ("inferenceobjectives", "inferencepools")),
        (("inference.networking.k8s.io",), ("inferencepools",)), (("",), ("pods",))}
    assert all(set(r["verbs"]) == {"get", "watch", "list"} for r in role["rules"])


def _ingress_peers(policy: dict) -> list[tuple[dict, dict | None, list]]:
    return [(p.get("podSelector", {}).get("matchLabels"), (p.get("namespaceSelector") or {}).get("matchLabels"),
             [x["port"] for x in rule["ports"]]) for rule in policy["spec"]["ingress"] for p in rule["from"]]


def test_network_policies_admit_the_data_plane_the_picker_and_prometheus(gaie_build):
    server = _one(gaie_build, "networkpolicy", "phi4-mini")
    assert _ingress_peers(server) == [
        (DATA_PLANE, DATA_PLANE_NS, [8000]),
        ({"app.kubernetes.io/name": "inference-epp", "app.kubernetes.io/instance": "phi4-mini"}, None, [8000]),
        ({"app.kubernetes.io/name": "prometheus"}, {"kubernetes.io/metadata.name": "monitoring"}, [8000])]
    proxy = _one(gaie_build, "networkpolicy", "gateway")["spec"]["egress"]
    assert proxy[1] == {"to": [{"podSelector": {"matchLabels": DATA_PLANE}, "namespaceSelector": {"matchLabels": DATA_PLANE_NS}}],
                        "ports": [{"port": 80, "protocol": "TCP"}]}
    assert len(proxy) == 2  # DNS and the Gateway's data plane: no API server, no model servers
    epp = _one(gaie_build, "networkpolicy", "gateway-phi4-mini-epp")["spec"]
    assert _ingress_peers({"spec": epp}) == [(DATA_PLANE, DATA_PLANE_NS, [9002])]


def test_every_pool_and_route_is_valid_against_its_crd(gaie_build):
    objects = {**_manifests(gaie_build, "inferencepool"), **_manifests(gaie_build, "httproute")}
    assert len(objects) == 3 and validate_objects(objects) == []
    report = json.loads((gaie_build / "gate" / "verdict.json").read_text())
    assert report["ok"]


@pytest.mark.parametrize("kind,name,break_it,expected", [
    ("inferencepool", "gateway-phi4-mini", lambda o: o["spec"].update(targetPort=[{"number": 8000}]),
     "spec: Additional properties are not allowed ('targetPort' was unexpected)"),
    ("inferencepool", "gateway-phi4-mini", lambda o: o["spec"]["targetPorts"].append({"number": 8001}),
     "spec.targetPorts: [{'number': 8000}, {'number': 8001}] is too long"),
    ("httproute", "gateway", lambda o: o["spec"]["rules"][0]["matches"][0]["headers"][0].update(type="Regexp"),
     "spec.rules.0.matches.0.headers.0.type: 'Regexp' is not one of ['Exact', 'RegularExpression']"),
])
def test_gate_refuses_an_invalid_pool_or_route(gaie_build, tmp_path, kind, name, break_it, expected):
    from slm_deploy.gate.runner import run_gate

    build = tmp_path / "build"
    shutil.copytree(gaie_build, build)
    path = build / "manifests" / f"slm-prod.{kind}.{name}.yaml"
    obj = yaml.safe_load(path.read_text())
    break_it(obj)
    path.write_text(yaml.safe_dump(obj))
    result = run_gate(build, "gaie", use_cache=False, write_reports=False)
    [failed] = [f for f in result.failed if f.check_id == "K8S_SCHEMA"]
    assert not result.ok and failed.file == f"manifests/{path.name}" and expected in failed.message, failed


_VLLM = """  slm-deploy:vllm:
    - {name: phi4-mini, model: phi-4-mini-instruct, gpu: l4}
    - {name: qwen3-8b, model: qwen3-8b, gpu: l40s}
"""


@pytest.mark.parametrize("body,where,expected", [
    ("  slm-deploy:target: docker\n  slm-deploy:cluster:\n" + GAIE, "slm-deploy:cluster.inferenceGateway",
     "a Gateway API Inference Extension gateway is a Kubernetes cluster's; target is docker"),
    ("  slm-deploy:cluster:\n" + GAIE + _VLLM + "  slm-deploy:gateway:\n    enabled: false\n",
     "slm-deploy:cluster.inferenceGateway", "the model gateway routes through this Gateway, and the stack has no gateway"),
    ("  slm-deploy:cluster:\n" + GAIE.replace("inference-gateway-istio.gateway-system.svc.cluster.local:80", "gw:http")
     + _VLLM, "slm-deploy:cluster.inferenceGateway.address = 'gw:http'", "must be host:port"),
    ("  slm-deploy:cluster:\n" + GAIE.replace("        podLabels:\n          gateway.networking.k8s.io/gateway-name: "
                                              "inference-gateway\n", "        podLabels: {}\n") + _VLLM,
     "slm-deploy:cluster.inferenceGateway.dataPlane.podLabels", "at least 1"),
    ("  slm-deploy:cluster:\n" + GAIE.split("      dataPlane:")[0] + _VLLM,
     "slm-deploy:cluster.inferenceGateway.dataPlane", "required"),
    ("  slm-deploy:cluster:\n" + GAIE + _VLLM + "  slm-deploy:gateway:\n    policy: round_robin\n",
     "slm-deploy:gateway.policy", "there is no router"),
])
def test_bad_gaie_input_is_one_located_line(scratch_project, body, where, expected):
    [line] = stack_problems(scratch_project, "config:\n" + body)
    assert line.startswith("stacks/Pulumi.t.yaml:") and where in line and expected in line, line


def test_gaie_refuses_canaries_and_blue_green(scratch_project):
    vllm = ("  slm-deploy:vllm:\n"
            "    - {name: phi4-mini, model: phi-4-mini-instruct, gpu: l4, rollout: blue-green}\n"
            "    - {name: qwen3-8b, model: qwen3-8b, gpu: l40s}\n")
    problems = stack_problems(scratch_project, "config:\n  slm-deploy:cluster:\n    rwxStorageClass: nfs\n" + GAIE + vllm)
    assert [p for p in problems if "vllm[0].rollout" in p and "InferencePool selects every ready pod" in p], problems
