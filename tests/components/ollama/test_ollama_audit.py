"""OllamaStack audit (issue 7): probers through NetworkPolicies, compose ordering/secrets, failed pulls,
gpu device ids on Kubernetes, Docker network confinement."""

from __future__ import annotations

import pulumi
import pytest
import yaml

import slm_deploy.synth as synth_module
from components.context import Peer, StackContext
from components.observability import AlertThresholds
from components.ollama import OllamaStack
from components.ollama.monitoring import monitoring_for
from components.onnx_edge import OnnxEdgeNode, OnnxEdgeNodeArgs
from stacks.loader import load_stack, project_root, validate_values
from stacks.errors import ConfigError
from stacks.program import stack_context
from slm_deploy.pipeline import build_stack, synth_stack
from slm_deploy.render import compose_document, render, secrets_readme
from slm_deploy.synth import SynthError, synthesize

CONTAINER = "docker:index/container:Container"


def _stack_with(scratch, name: str, base: str, update) -> object:
    """Load stacks/Pulumi.<base>.yaml with ``update(config)`` applied, as stack ``name`` in ``scratch``."""
    data = yaml.safe_load((project_root() / "stacks" / f"Pulumi.{base}.yaml").read_text())
    update(data["config"])
    (scratch / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(data))
    return load_stack(name, scratch)


def _objects(out_dir):
    return {(o["kind"], o["metadata"]["name"]): o for o in
            (yaml.safe_load(p.read_text()) for p in (out_dir / "manifests").glob("*.yaml"))}


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --------------------------------------------------------------------------- 1. probers
@pytest.fixture(scope="module")
def cpu_monitored(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("proj")
    (scratch / "stacks").mkdir()
    (scratch / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())
    loaded = _stack_with(scratch, "cpu", "cpu", lambda c: c.__setitem__("slm-deploy:monitoring", {"mode": "standalone"}))
    return build_stack(loaded, tmp_path_factory.mktemp("cpu-mon") / "cpu")


def test_ollama_policy_admits_blackbox_exporter_on_api_port(cpu_monitored):
    objs = _objects(cpu_monitored.out_dir)
    blackbox = objs[("Deployment", "monitoring-blackbox-exporter")]
    bb_labels = blackbox["spec"]["template"]["metadata"]["labels"]
    bb_namespace = blackbox["metadata"]["namespace"]
    ollama_ns = objs[("Deployment", "ollama")]["metadata"]["namespace"]
    policy = objs[("NetworkPolicy", "ollama")]
    admitting = []
    for rule in policy["spec"]["ingress"]:
        for peer in rule.get("from", []):
            pods = peer.get("podSelector", {}).get("matchLabels", {})
            ns = peer.get("namespaceSelector")
            same_ns = ns is None and bb_namespace == ollama_ns
            other_ns = ns is not None and _matches(ns.get("matchLabels", {}), {"kubernetes.io/metadata.name": bb_namespace})
            if pods and _matches(pods, bb_labels) and (same_ns or other_ns):
                admitting.append(rule)
    assert admitting, policy["spec"]["ingress"]
    # The rule's port is the container port the probe URL targets: 11434.
    container = objs[("Deployment", "ollama")]["spec"]["template"]["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    ports = {named.get(p["port"], p["port"]) for rule in admitting for p in rule["ports"]}
    assert ports == {11434}
    # Nothing else was opened: the web UI, the smoke Job, the named client, and the prober.
    peers = [p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") for r in policy["spec"]["ingress"] for p in r["from"]]
    assert peers[:3] == ["open-webui", "ollama-smoke", "rag-api"] and len(peers) == 3 + len(admitting)


def test_cpu_with_monitoring_passes_the_gate(cpu_monitored):
    from slm_deploy.gate.schema_validation import validate_manifests

    assert validate_manifests(cpu_monitored.out_dir / "manifests") == []
    assert cpu_monitored.gate.ok, [f"{f.check_id} {f.resource}" for f in cpu_monitored.gate.failed]


def test_cpu_without_monitoring_admits_no_prober(synthesized):
    synth = synthesized("cpu")
    (policy,) = [r.inputs for r in synth.resources
                 if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and r.inputs["metadata"]["name"] == "ollama"]
    assert len(policy["spec"]["ingress"]) == 1


def test_onnx_edge_policy_admits_probers(tmp_path):
    args = OnnxEdgeNodeArgs.model_validate({
        "name": "edge-phi4", "model": "phi-4-mini-instruct", "maxLength": 1024, "target": "kubernetes",
        "image": "ghcr.io/acme/slm-onnx-edge:0.1.0@sha256:" + "a" * 64})
    prober = Peer({"app.kubernetes.io/name": "blackbox-exporter"}, {"kubernetes.io/metadata.name": "monitoring"})

    def program():
        OnnxEdgeNode("edge-phi4", args, StackContext(namespace="edge", probers=(prober,)), api_key=pulumi.Output.secret("k"))

    result = synthesize(program, project="slm-deploy", stack="t")
    (policy,) = [r.inputs for r in result.resources
                 if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and r.name == "edge-phi4-netpol"]
    rules = policy["spec"]["ingress"]
    assert len(rules) == 2
    assert rules[1]["from"] == [{"podSelector": {"matchLabels": prober.pod_labels}, "namespaceSelector": {"matchLabels": prober.namespace_labels}}]
    assert rules[1]["ports"] == [{"protocol": "TCP", "port": "http"}]
    render(result, tmp_path)
    from slm_deploy.gate.schema_validation import validate_manifests

    assert validate_manifests(tmp_path / "manifests") == []


# --------------------------------------------------------------------------- 2. compose ordering and secrets
@pytest.fixture(scope="module")
def dev_synth(synthesized):
    return synthesized("dev")


def test_webui_waits_for_the_pull_to_complete(dev_synth):
    webui = next(r for r in dev_synth.resources if r.type == CONTAINER and r.inputs["name"] == "ollama-webui")
    assert f"{CONTAINER}::ollama-pull" in webui.depends_on
    compose = compose_document(dev_synth)
    assert compose["services"]["ollama-webui"]["depends_on"] == {
        "ollama": {"condition": "service_healthy"},
        "ollama-pull": {"condition": "service_completed_successfully"},
    }


def test_secrets_readme_lists_every_compose_secret_file(dev_synth, tmp_path):
    render(dev_synth, tmp_path)
    compose = yaml.safe_load((tmp_path / "compose.yaml").read_text())
    readme = (tmp_path / "secrets" / "README.md").read_text()
    assert compose["secrets"]
    for name, spec in compose["secrets"].items():
        assert spec["file"] == f"./secrets/{name}"
        assert f"`secrets/{name}`" in readme and f"openssl rand -hex 32 > secrets/{name}" in readme
    assert "`ollama-webui` reads it at `/run/secrets/open-webui/webui_secret_key`" in readme
    assert "[secret" not in readme and "[generated" not in readme
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["README.md"]  # never a value file


def test_no_secrets_readme_without_compose_secrets():
    assert secrets_readme({"services": {"a": {"image": "x"}}}) is None


# --------------------------------------------------------------------------- 4. failed pull
def test_failed_pull_fails_the_program(monkeypatch):
    original = synth_module._mock_outputs

    def failing(typ, name, inputs):
        outputs = original(typ, name, inputs)
        if typ == CONTAINER and inputs.get("name") == "ollama-pull":
            outputs["exitCode"] = 1
        return outputs

    monkeypatch.setattr(synth_module, "_mock_outputs", failing)
    with pytest.raises(SynthError, match=r"ollama-pull exited with status 1: a model pull or `ollama create` failed"):
        synth_stack(load_stack("dev"))


def test_successful_pull_serves_its_models(monkeypatch):
    """The served-models output waits for the pull step's exit code and, at 0, lists what was pulled and built."""
    original = synth_module._mock_outputs

    def succeeding(typ, name, inputs):
        outputs = original(typ, name, inputs)
        if typ == CONTAINER and inputs.get("name") == "ollama-pull":
            outputs["exitCode"] = 0
        return outputs

    monkeypatch.setattr(synth_module, "_mock_outputs", succeeding)
    cfg = load_stack("dev").config
    served: list[list[str]] = []

    def program():
        stack = OllamaStack("ollama", cfg.ollama, stack_context(cfg), target="docker", webui_secret_key="k" * 32)
        stack.models.apply(served.append)

    synthesize(program, project="slm-deploy", stack="dev")
    assert served == [cfg.ollama.served_models()]
    assert served[0] and all(isinstance(m, str) for m in served[0])


# --------------------------------------------------------------------------- 6. gpu device ids
def test_gpu_device_ids_with_kubernetes_target_is_a_config_error():
    values = {"target": "kubernetes", "ollama": {"models": ["qwen3:0.6b"], "target": "kubernetes", "gpu": ["0"]}}
    with pytest.raises(ConfigError) as exc:
        validate_values(values, "stacks/Pulumi.t.yaml")
    msg = str(exc.value)
    assert "stacks/Pulumi.t.yaml" in msg and "slm-deploy:ollama" in msg
    assert "ollama.gpu = ['0']: device ids are Docker-only" in msg and "gpu: all" in msg


def test_gpu_device_ids_on_a_kubernetes_stack_are_a_located_config_error(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())
    with pytest.raises(ConfigError, match=r"stacks/Pulumi.gpuids.yaml:\d+: slm-deploy:ollama.gpu = \['0', '1'\]: ollama.gpu = \['0', '1'\]: device ids are Docker-only"):
        _stack_with(tmp_path, "gpuids", "cpu", lambda c: c["slm-deploy:ollama"].__setitem__("gpu", ["0", "1"]))


def test_gpu_device_ids_on_docker_and_all_on_kubernetes_are_fine():
    validate_values({"target": "docker", "ollama": {"models": ["qwen3:0.6b"], "gpu": ["0", "GPU-1"], "dockerUser": "10001:10001"}}, "t")
    validate_values({"target": "kubernetes", "ollama": {"models": ["qwen3:0.6b"], "gpu": "all"}}, "t")


@pytest.mark.parametrize("gpu", [[], ["0,1"], [" 0"]])
def test_gpu_device_id_list_shape(gpu):
    with pytest.raises(ConfigError, match="non-empty list of device ids"):
        validate_values({"target": "docker", "ollama": {"models": ["qwen3:0.6b"], "gpu": gpu}}, "t")


# --------------------------------------------------------------------------- 7. probe monitoring
def test_monitoring_is_the_probe_contribution():
    from components.probe_monitoring import PROBE_ALERTS

    contribution = monitoring_for("ollama", "ollama-ollama", "http://ollama:11434/api/version")
    assert contribution.engine == "ollama"
    assert [r.name for r in contribution.alert_rules(AlertThresholds())] == [
        PROBE_ALERTS["ollama"]]
    assert contribution.panels


# --------------------------------------------------------------------------- 8. docker networks
def _networks(compose: dict) -> dict[str, dict[str, dict]]:
    return {name: svc.get("networks", {}) for name, svc in compose["services"].items()}


def _check_confinement(compose: dict) -> None:
    internal = {n for n, spec in compose["networks"].items() if spec.get("internal")}
    assert internal == {"ollama-internal", "ollama-webui-internal"}
    nets = _networks(compose)
    # No non-internal network is shared by two containers.
    for net in compose["networks"]:
        members = [svc for svc, n in nets.items() if net in n]
        if net not in internal:
            assert len(members) <= 1, (net, members)
    # The alias `ollama` exists only on the internal network.
    for svc, n in nets.items():
        for net, spec in n.items():
            if "ollama" in (spec or {}).get("aliases", []):
                assert (svc, net) == ("ollama", "ollama-internal")
    # Only the web UI and the auth proxy share a network with Ollama, and only the internal one; only the web UI
    # proxy shares one with the web UI besides them, and it never reaches Ollama.
    talkers = {svc for svc in nets if svc != "ollama" and set(nets[svc]) & set(nets["ollama"])}
    assert talkers <= {"ollama-webui", "ollama-auth-proxy"}, talkers
    for svc in talkers:
        assert set(nets[svc]) & set(nets["ollama"]) == {"ollama-internal"}, svc
    assert {svc for svc in nets if svc != "ollama-webui" and set(nets[svc]) & set(nets["ollama-webui"])} <= {
        "ollama", "ollama-auth-proxy", "ollama-webui-proxy"}
    assert set(nets["ollama-webui-proxy"]) == {"ollama-webui-internal", "ollama-webui-edge"}
    # Open WebUI publishes nothing and joins internal networks only: its proxy is the way in (issue #10).
    assert "ports" not in compose["services"]["ollama-webui"]
    assert set(nets["ollama-webui"]) == {"ollama-internal", "ollama-webui-internal"}
    assert nets["ollama-webui"]["ollama-webui-internal"]["aliases"] == ["open-webui"]
    # The pull step downloads with a server of its own, on a bridge of its own, before Ollama starts.
    assert set(nets["ollama-pull"]) == {"ollama-egress"}
    # A published port needs a non-internal network of its own.
    for svc, spec in compose["services"].items():
        if spec.get("ports"):
            assert set(nets[svc]) - internal, svc


def test_dev_docker_networks_confine_webui_to_ollama_path(dev_synth):
    compose = compose_document(dev_synth)
    _check_confinement(compose)
    nets = _networks(compose)
    assert set(nets["ollama"]) == {"ollama-internal", "ollama-api-edge"}  # the loopback API publish (no proxy)
    assert compose["services"]["ollama-webui-proxy"]["ports"] == [
        {"host_ip": "127.0.0.1", "protocol": "tcp", "published": "3000", "target": 8080}]


def test_auth_proxy_docker_networks(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())

    def proxy(config):
        config["slm-deploy:ollama"].update({"authProxy": True, "publishAddress": "0.0.0.0"})

    compose = compose_document(synth_stack(_stack_with(tmp_path, "proxied", "dev", proxy)))
    _check_confinement(compose)
    nets = _networks(compose)
    assert set(nets["ollama-auth-proxy"]) == {"ollama-internal", "ollama-proxy-edge"}
    # Issue #10: Ollama sat on a bridge the host (and host-network containers) could reach, skipping the proxy.
    # With the proxy it is on the internal network only, and only the proxy and the web UI join that network.
    assert set(nets["ollama"]) == {"ollama-internal"}
    assert {svc for svc, n in nets.items() if "ollama-internal" in n} == {"ollama", "ollama-webui", "ollama-auth-proxy"}
    assert compose["networks"]["ollama-internal"]["internal"] is True
    assert "ports" not in compose["services"]["ollama"]  # only the proxy publishes the API
    assert compose["services"]["ollama-auth-proxy"]["ports"][0]["host_ip"] == "0.0.0.0"


def test_auth_proxy_variant_passes_the_gate_as_a_high_uid_user(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())

    def proxy(config):
        config["slm-deploy:ollama"].update({"authProxy": True, "publishAddress": "0.0.0.0"})

    from slm_deploy.pipeline import build_stack

    build = build_stack(_stack_with(tmp_path, "proxied", "dev", proxy), tmp_path / "build")
    assert build.gate.ok, [(f.check_id, f.resource, f.message) for f in build.gate.failed]
    compose = compose_document(build.synth)
    assert compose["services"]["ollama-auth-proxy"]["user"] == "10001:10001"


def test_program_passes_probers_to_onnx_edge_nodes(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())

    def k3s(config):
        config.clear()
        config.update({
            "slm-deploy:target": "kubernetes", "slm-deploy:namespace": "edge",
            "slm-deploy:onnxEdge": [{"name": "edge-phi4", "model": "phi-4-mini-instruct", "maxLength": 1024,
                                     "target": "kubernetes",
                                     "image": "ghcr.io/acme/slm-onnx-edge:0.1.0@sha256:" + "a" * 64}],
            "slm-deploy:monitoring": {"mode": "standalone"},
        })

    result = synth_stack(_stack_with(tmp_path, "k3s", "edge", k3s))
    policy = next(r.inputs for r in result.resources if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
                  and r.inputs["metadata"]["name"] == "edge-phi4")
    peers = [p["podSelector"].get("matchLabels") for rule in policy["spec"]["ingress"] for p in rule["from"]]
    assert {"app.kubernetes.io/instance": "monitoring", "app.kubernetes.io/name": "blackbox-exporter"} in peers


def test_k8s_volumes_use_the_clusters_storage_class():
    """Both ReadWriteOnce claims (the model store and Open WebUI's data) land on ``cluster.storageClass``."""
    from components.context import ClusterCapabilities
    from components.ollama import OllamaStackArgs

    args = OllamaStackArgs.model_validate({"models": ["qwen3-0.6b"], "webui": {"enabled": True}})
    ctx = StackContext(namespace="slm", cluster=ClusterCapabilities.model_validate({"storageClass": "fast-ssd"}))

    def program():
        OllamaStack("ollama", args, ctx, target="kubernetes", webui_secret_key=pulumi.Output.secret("k"))

    claims = {r.name: r.inputs["spec"] for r in synthesize(program, project="slm-deploy", stack="t").resources
              if r.type == "kubernetes:core/v1:PersistentVolumeClaim"}
    assert set(claims) == {"ollama-models", "ollama-webui-data"}
    assert {name: spec.get("storageClassName") for name, spec in claims.items()} == {
        "ollama-models": "fast-ssd", "ollama-webui-data": "fast-ssd"}
