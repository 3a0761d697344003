"""Apply-validity stage: every rule fires on a fixture that breaks it, passes on the good base, and its
findings reach every report (terminal, SARIF, JUnit, Markdown, verdict.json)."""
from __future__ import annotations

import copy
import io
import json

import pytest
import yaml
from rich.console import Console

from gate_helpers import write_build
from slm_deploy.gate import run_gate
from slm_deploy.gate.apply_validity import APPLY_CHECKS, check_compose, check_kubernetes

NS = "demo"
GOOD = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": NS}, "data": {"a": "b"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-keys", "namespace": NS}, "data": {}},
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "web-data", "namespace": NS},
     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment",
     "metadata": {"name": "web", "namespace": NS, "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "slm"}},
     "spec": {
         "selector": {"matchLabels": {"app": "web"}},
         "template": {
             "metadata": {"labels": {"app": "web", "tier": "front"}},
             "spec": {
                 "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-L4"},
                 "volumes": [
                     {"name": "config", "configMap": {"name": "web-config"}},
                     {"name": "keys", "secret": {"secretName": "web-keys"}},
                     {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                     {"name": "ca", "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]}},
                     {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                 ],
                 "containers": [{
                     "name": "web", "image": "nginx@sha256:" + "a" * 64,
                     "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
                     "env": [{"name": "MODE", "value": "x"}, {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "web-keys", "key": "k"}}}],
                     "resources": {"requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                                   "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}},
                     "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}, {"name": "keys", "mountPath": "/keys"},
                                      {"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}],
                     "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                 }],
             },
         },
     }},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
     "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                                                    {"name": "metrics", "port": 9090, "targetPort": 9090}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web", "namespace": NS},
     "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
              "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]}},
    {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": NS},
     "spec": {"minAvailable": 1, "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}}},
]


def _objects(objs):
    return [(f"{o['metadata'].get('namespace', '_cluster')}.{o['kind'].lower()}.{o['metadata']['name']}.yaml", o) for o in objs]


def _failures(objs):
    return {(r.check_id, r.resource): r.problems for r in check_kubernetes(_objects(objs)) if r.problems}


def _deployment(objs):
    return next(o for o in objs if o["kind"] == "Deployment")


def _container(objs):
    return _deployment(objs)["spec"]["template"]["spec"]["containers"][0]


def test_the_good_base_passes_every_rule():
    results = check_kubernetes(_objects(GOOD))
    assert [r for r in results if r.problems] == []
    ran = {r.check_id for r in results}
    assert ran == {c for c in APPLY_CHECKS if not c.startswith("SLM_APPLY_COMPOSE")}


def _set(path, value):
    def mutate(objs):
        target = objs
        for part in path[:-1]:
            target = _deployment(target) if part == "@deploy" else (_container(target) if part == "@container" else target[part])
        target[path[-1]] = value
    return mutate


def _by_kind(kind, mutate):
    def apply(objs):
        mutate(next(o for o in objs if o["kind"] == kind))
    return apply


FIXTURES = [
    # (check id, resource, mutation, words in the message)
    ("SLM_APPLY_METADATA", "Deployment.demo.web", _set(["@deploy", "metadata", "labels"], {"app.kubernetes.io/part-of": "slm deploy"}), "label value"),
    ("SLM_APPLY_METADATA", "Deployment.demo.Web_1", _set(["@deploy", "metadata", "name"], "Web_1"), "DNS-1123 subdomain"),
    ("SLM_APPLY_METADATA", "Service.demo.web.v1", _by_kind("Service", lambda o: o["metadata"].update(name="web.v1")), "DNS-1123 label"),
    ("SLM_APPLY_METADATA", "Deployment.demo.web", lambda objs: _deployment(objs)["spec"]["template"]["spec"].update(nodeSelector={"bad key!": "x"}), "label key"),
    ("SLM_APPLY_METADATA", "NetworkPolicy.demo.web", _by_kind("NetworkPolicy", lambda o: o["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].update(role="a b")), "label value"),
    ("SLM_APPLY_QUANTITY", "Deployment.demo.web", lambda objs: _container(objs)["resources"]["limits"].update(cpu="2 cores"), "CPU quantity"),
    ("SLM_APPLY_QUANTITY", "Deployment.demo.web", lambda objs: _container(objs)["resources"]["requests"].update(memory="4Gi"), "above its limit"),
    ("SLM_APPLY_QUANTITY", "Deployment.demo.web", lambda objs: _container(objs)["resources"]["limits"].update({"nvidia.com/gpu": "2"}), "request equal to limit"),
    ("SLM_APPLY_QUANTITY", "PersistentVolumeClaim.demo.web-data", _by_kind("PersistentVolumeClaim", lambda o: o["spec"]["resources"]["requests"].update(storage="30 GB")), "no space"),
    ("SLM_APPLY_PORTS", "Deployment.demo.web", lambda objs: _container(objs)["ports"].append({"name": "http", "containerPort": 8081}), "port name 'http' is used 2 times"),
    ("SLM_APPLY_PORTS", "Deployment.demo.web", lambda objs: _container(objs)["ports"].append({"name": "metrics-http-extra", "containerPort": 8082}), "port name"),
    ("SLM_APPLY_PORTS", "Deployment.demo.web", lambda objs: _container(objs)["ports"].append({"name": "alt", "containerPort": 8080}), "containerPort 8080/TCP is declared 2 times"),
    ("SLM_APPLY_PORTS", "Deployment.demo.web", lambda objs: _container(objs)["readinessProbe"]["httpGet"].update(port="htp"), "names no port"),
    ("SLM_APPLY_PORTS", "Service.demo.web", _by_kind("Service", lambda o: o["spec"]["ports"][1].pop("name")), "needs a name"),
    ("SLM_APPLY_ENV", "Deployment.demo.web", lambda objs: _container(objs)["env"].append({"name": "MODE", "value": "y"}), "env MODE is set 2 times"),
    ("SLM_APPLY_ENV", "Deployment.demo.web", lambda objs: _container(objs)["env"].append({"name": "1BAD NAME", "value": "y"}), "environment variable name"),
    ("SLM_APPLY_VOLUMES", "Deployment.demo.web", lambda objs: _container(objs)["volumeMounts"].append({"name": "cache", "mountPath": "/cache"}), "mounts volume 'cache', which the pod does not declare"),
    ("SLM_APPLY_VOLUMES", "Deployment.demo.web", lambda objs: _deployment(objs)["spec"]["template"]["spec"]["volumes"].append({"name": "tmp", "emptyDir": {}}), "volume tmp is declared 2 times"),
    ("SLM_APPLY_VOLUMES", "Deployment.demo.web", lambda objs: _container(objs)["volumeMounts"].append({"name": "tmp", "mountPath": "/data"}), "mountPath /data is used by 2 mounts"),
    ("SLM_APPLY_REFERENCES", "Deployment.demo.web", lambda objs: _deployment(objs)["spec"]["template"]["spec"]["volumes"][0]["configMap"].update(name="web-cfg"), "ConfigMap 'web-cfg'"),
    ("SLM_APPLY_REFERENCES", "Deployment.demo.web", lambda objs: _deployment(objs)["spec"]["template"]["spec"]["volumes"][1]["secret"].update(secretName="receiver-url"), "Secret 'receiver-url'"),
    ("SLM_APPLY_REFERENCES", "Deployment.demo.web", lambda objs: _container(objs)["env"][1]["valueFrom"]["secretKeyRef"].update(name="other"), "Secret 'other'"),
    ("SLM_APPLY_REFERENCES", "Deployment.demo.web", lambda objs: objs.remove(next(o for o in objs if o["kind"] == "PersistentVolumeClaim")), "PersistentVolumeClaim 'web-data'"),
    ("SLM_APPLY_SELECTORS", "Service.demo.web", _by_kind("Service", lambda o: o["spec"].update(selector={"app": "wbe"})), "matches no pod template"),
    ("SLM_APPLY_SELECTORS", "NetworkPolicy.demo.web", _by_kind("NetworkPolicy", lambda o: o["spec"]["podSelector"].update(matchLabels={"app": "api"})), "matches no pod template"),
    ("SLM_APPLY_SELECTORS", "PodDisruptionBudget.demo.web", _by_kind("PodDisruptionBudget", lambda o: o["spec"]["selector"]["matchExpressions"][0].update(operator="NotIn")), "matches no pod template"),
    ("SLM_APPLY_SELECTORS", "Deployment.demo.web", _set(["@deploy", "spec", "selector"], {"matchLabels": {"app": "other"}}), "does not match the pod template"),
]


@pytest.mark.parametrize("check_id, resource, mutate, words", FIXTURES, ids=[f"{f[0]}-{i}" for i, f in enumerate(FIXTURES)])
def test_each_rule_fires_on_its_fixture(check_id, resource, mutate, words):
    objs = copy.deepcopy(GOOD)
    mutate(objs)
    failures = _failures(objs)
    assert (check_id, resource) in failures, failures
    assert any(words in p for p in failures[(check_id, resource)]), failures[(check_id, resource)]


def test_a_user_created_secret_declared_on_the_pod_is_a_documented_external_one():
    objs = copy.deepcopy(GOOD)
    _deployment(objs)["spec"]["template"]["spec"]["volumes"][1]["secret"]["secretName"] = "receiver-url"
    _deployment(objs)["spec"]["template"]["metadata"]["annotations"] = {"slm-deploy.io/external-secrets": "receiver-url"}
    assert _failures(objs) == {}
    _deployment(objs)["spec"]["template"]["spec"]["volumes"][1]["secret"]["optional"] = True
    _deployment(objs)["spec"]["template"]["metadata"]["annotations"] = {}
    assert _failures(objs) == {}, "an optional reference may be absent"


def test_a_user_filled_claim_declared_on_the_pod_is_a_documented_external_one():
    objs = copy.deepcopy(GOOD)
    volumes = _deployment(objs)["spec"]["template"]["spec"]["volumes"]
    volumes.append({"name": "weights", "persistentVolumeClaim": {"claimName": "team-weights"}})
    assert "PersistentVolumeClaim 'team-weights'" in str(_failures(objs))
    _deployment(objs)["spec"]["template"]["metadata"]["annotations"] = {"slm-deploy.io/external-claims": "team-weights"}
    assert _failures(objs) == {}
    _deployment(objs)["spec"]["template"]["metadata"]["annotations"] = {"slm-deploy.io/external-secrets": "team-weights"}
    assert _failures(objs), "a claim is not declared by the Secrets annotation"


_USER_SOURCES = {  # issue 11: each documented model source whose objects the user creates passes the stage
    "prefilled claim": {"prefilledClaim": "team.weights"},
    "mirror with a CA bundle": {"mirror": "https://hf-mirror.internal", "caBundleSecret": "mirror-ca",
                                "egressCidrs": ["10.20.0.0/16"]},
    "s3 with credentials": {"s3": {"endpoint": "https://minio.storage.svc:9000", "bucket": "models", "prefix": "phi",
                                   "credentialsSecret": "s3-creds"}, "caBundleSecret": "minio-ca"},
}


@pytest.mark.parametrize("case", sorted(_USER_SOURCES))
def test_user_created_source_objects_pass_the_reference_rule(case, scratch_project, tmp_path):
    from slm_deploy.pipeline import synth_stack
    from slm_deploy.render import render
    from stacks.loader import load_stack
    from tests.conftest import write_stack

    source = {"cluster": {"rwxStorageClass": "nfs"}, "vllm": [{"name": "phi", "model": "qwen3-0.6b",
                                                               "source": _USER_SOURCES[case]}]}
    write_stack(scratch_project, "t", yaml.safe_dump({"config": {f"slm-deploy:{k}": v for k, v in source.items()}}))
    out = tmp_path / "build"
    render(synth_stack(load_stack("t", scratch_project)), out)
    objects = [(p.name, yaml.safe_load(p.read_text())) for p in sorted((out / "manifests").glob("*.yaml"))]
    results = [r for r in check_kubernetes(objects) if r.check_id == "SLM_APPLY_REFERENCES"]
    assert results and [r.problems for r in results if r.problems] == []
    annotations = [((o.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations") or {}
                   for _, o in objects if o["kind"] in ("Deployment", "Job")]
    declared = ",".join(a.get("slm-deploy.io/external-claims", "") + "," + a.get("slm-deploy.io/external-secrets", "")
                        for a in annotations)
    for name in ("team.weights", "mirror-ca", "s3-creds", "minio-ca"):
        assert (name in declared) == (name in json.dumps(_USER_SOURCES[case])), name


GOOD_COMPOSE = {
    "services": {
        "a": {"image": "x", "ports": [{"host_ip": "127.0.0.1", "published": "3000", "target": 80}],
              "volumes": [{"type": "volume", "source": "data", "target": "/d"}, "./local:/l"],
              "networks": {"internal": {}}, "secrets": ["key"], "configs": [{"source": "conf", "target": "/c"}]},
        "b": {"image": "y", "ports": ["127.0.0.2:3000:80", "8080"], "networks": ["internal"], "depends_on": {"a": {}}},
    },
    "volumes": {"data": {}}, "networks": {"internal": {}}, "secrets": {"key": {"file": "./k"}}, "configs": {"conf": {"content": "x"}},
}

COMPOSE_FIXTURES = [
    ("SLM_APPLY_COMPOSE_PORTS", "service.b", lambda d: d["services"]["b"]["ports"].append("3000:81"), "already published by service a"),
    ("SLM_APPLY_COMPOSE_PORTS", "service.b", lambda d: d["services"]["b"]["ports"].append({"published": 3000, "target": 1, "host_ip": "0.0.0.0"}), "3000/tcp"),
    ("SLM_APPLY_COMPOSE_REFERENCES", "service.a", lambda d: d["services"]["a"]["volumes"].append("cache:/cache"), "volume 'cache'"),
    ("SLM_APPLY_COMPOSE_REFERENCES", "service.a", lambda d: d["services"]["a"]["networks"].update(edge={}), "network 'edge'"),
    ("SLM_APPLY_COMPOSE_REFERENCES", "service.a", lambda d: d["services"]["a"]["secrets"].append("other"), "secret 'other'"),
    ("SLM_APPLY_COMPOSE_REFERENCES", "service.a", lambda d: d.pop("configs"), "config 'conf'"),
    ("SLM_APPLY_COMPOSE_REFERENCES", "service.b", lambda d: d["services"]["b"].update(depends_on=["c"]), "depends_on 'c'"),
]


def test_the_good_compose_passes():
    assert [r for r in check_compose(copy.deepcopy(GOOD_COMPOSE)) if r.problems] == []


@pytest.mark.parametrize("check_id, resource, mutate, words", COMPOSE_FIXTURES, ids=[f"{f[0]}-{i}" for i, f in enumerate(COMPOSE_FIXTURES)])
def test_each_compose_rule_fires(check_id, resource, mutate, words):
    doc = copy.deepcopy(GOOD_COMPOSE)
    mutate(doc)
    failed = {(r.check_id, r.resource): r.problems for r in check_compose(doc) if r.problems}
    assert (check_id, resource) in failed, failed
    assert any(words in p for p in failed[(check_id, resource)])


def test_apply_failures_are_gate_findings_in_every_report(tmp_path):
    from slm_deploy.gate.summary import print_summary

    objs = copy.deepcopy(GOOD)
    _container(objs)["resources"]["limits"]["memory"] = "2 GB"
    bad_compose = copy.deepcopy(GOOD_COMPOSE)
    bad_compose["services"]["b"]["ports"].append("3000:81")
    build = write_build(tmp_path / "b", objs, compose=yaml.safe_dump(bad_compose))
    result = run_gate(build, "t", use_cache=False)
    apply_failed = {(f.check_id, f.resource) for f in result.failed if f.source == "apply"}
    assert apply_failed == {("SLM_APPLY_QUANTITY", "Deployment.demo.web"), ("SLM_APPLY_COMPOSE_PORTS", "service.b")}
    quantity = next(f for f in result.failed if f.check_id == "SLM_APPLY_QUANTITY")
    assert quantity.file == "manifests/demo.deployment.web.yaml" and "'2 GB'" in quantity.message
    assert {f"SLM_APPLY_{x}" for x in ("METADATA", "VOLUMES", "REFERENCES", "SELECTORS")} <= {f.check_id for f in result.passed}
    assert set(APPLY_CHECKS) <= set(result.checks)

    gate = build / "gate"
    sarif = json.loads((gate / "report.sarif").read_text())
    assert {"SLM_APPLY_QUANTITY", "SLM_APPLY_COMPOSE_PORTS"} <= {r["ruleId"] for r in sarif["runs"][0]["results"]}
    junit = (gate / "junit.xml").read_text()
    assert 'testsuite name="SLM_APPLY_QUANTITY"' in junit and 'type="SLM_APPLY_COMPOSE_PORTS"' in junit
    markdown = (gate / "report.md").read_text()
    assert "SLM_APPLY_QUANTITY" in markdown and "manifests/demo.deployment.web.yaml" in markdown and "SLM_APPLY_COMPOSE_PORTS" in markdown
    verdict = json.loads((gate / "verdict.json").read_text())
    assert verdict["ok"] is False and verdict["failed"] >= 2
    console = Console(file=io.StringIO(), width=300)
    print_summary(result, console)
    terminal = console.file.getvalue()
    assert "SLM_APPLY_QUANTITY" in terminal and "SLM_APPLY_COMPOSE_PORTS" in terminal
    assert "containers[web].resources.limits.memory" in terminal, "finding text is printed literally, not as markup"


@pytest.mark.parametrize("stack", ["dev", "edge", "cpu", "staging", "prod"])
def test_every_reference_stack_passes_the_apply_validity_stage(built, stack):
    """Every apply rule that can judge the stack ran on it (Kubernetes rules on manifests, compose rules on
    compose.yaml) and passed; none failed and none is waived."""
    build = built(stack)
    apply_ids = set(APPLY_CHECKS)
    not_passed = {f.check_id for f in build.gate.failed} | {w.finding.check_id for w in build.gate.waived}
    assert not_passed & apply_ids == set()
    compose = (build.out_dir / "compose.yaml").exists()
    expected = {c for c in apply_ids if c.startswith("SLM_APPLY_COMPOSE") == compose}
    assert expected <= {f.check_id for f in build.gate.passed}, expected - {f.check_id for f in build.gate.passed}
