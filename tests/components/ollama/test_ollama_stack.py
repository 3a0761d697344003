"""OllamaStack: validation rules, Modelfiles, Docker hardening + compose parity, Kubernetes target, gate."""

from __future__ import annotations

import copy

import pytest
import yaml

from components.ollama.modelfile import ModelfileVariant, render_modelfile
from components.ollama.settings import OllamaServerSettings
from components.ollama import OllamaStackArgs
from stacks.loader import validate_values
from stacks.errors import ConfigError

DOCKER = {"target": "docker", "docker": {"memoryGb": 16}, "ollama": {"models": ["qwen3:0.6b"], "dockerUser": "10001:10001"}}


def _error(values: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        validate_values(values, "stacks/Pulumi.t.yaml")
    return str(exc.value)


def _with(**ollama) -> dict:
    values = copy.deepcopy(DOCKER)
    values["ollama"].update(ollama)
    return values


# --------------------------------------------------------------------------- validation rules
def test_invented_env_var_names_the_real_setting():
    msg = _error(_with(server={"env": {"OLLAMA_NUM_GPU": "1"}}))
    assert "stacks/Pulumi.t.yaml" in msg and "OLLAMA_NUM_GPU is not an Ollama environment variable" in msg
    assert "num_gpu" in msg


def test_unknown_env_var_did_you_mean():
    msg = _error(_with(server={"env": {"OLLAMA_ORIGIN": "*"}}))
    assert "did you mean OLLAMA_ORIGINS" in msg


def test_managed_env_var_points_to_field():
    assert "server.keepAlive" in _error(_with(server={"env": {"OLLAMA_KEEP_ALIVE": "1h"}}))


@pytest.mark.parametrize("value", ["1 hour", "1d", "forever"])
def test_keep_alive_is_a_go_duration_or_seconds(value):
    msg = _error(_with(server={"keepAlive": value}))
    assert f"ollama.server.keepAlive = {value!r}: must be a Go duration" in msg


def test_keep_alive_accepts_what_ollama_reads():
    for value in ("24h", "-1", "0", "1h30m", "3600"):
        assert OllamaServerSettings.model_validate({"keepAlive": value}).keep_alive == value


def test_quantized_kv_needs_flash_attention():
    assert "needs flashAttention" in _error(_with(server={"kvCacheType": "q8_0"}))


@pytest.mark.parametrize("ref", ["qwen3", "qwen3:latest", "phi4-mini:instruct"])
def test_unpinned_model_tag(ref):
    assert "is not pinned" in _error(_with(models=[ref]))


def test_uncatalogued_tag_cannot_be_sized():
    assert "not in the model catalog" in _error(_with(models=["mistral:7b"]))


def test_invalid_modelfile_instruction():
    msg = _error(_with(modelfiles=[{"name": "x", "base": "qwen3:0.6b", "instructions": ["FILE model.gguf"]}]))
    assert "FILE is not a Modelfile instruction" in msg


def test_invalid_modelfile_parameter():
    msg = _error(_with(modelfiles=[{"name": "x", "base": "qwen3:0.6b", "parameters": {"context_length": 8192}}]))
    assert "context_length is not an Ollama Modelfile parameter; did you mean num_ctx?" in msg


def test_variant_base_must_be_pulled():
    assert "is not one of models" in _error(_with(modelfiles=[{"name": "x", "base": "qwen3:4b"}]))


def test_publish_all_interfaces_needs_proxy():
    msg = _error(_with(publishAddress="0.0.0.0"))
    assert "publishAddress 0.0.0.0" in msg and "authProxy" in msg
    validate_values(_with(publishAddress="0.0.0.0", authProxy=True), "t")  # allowed with the proxy


def test_model_that_does_not_fit_the_host():
    values = _with(models=["qwen3:14b"])
    values["docker"]["memoryGb"] = 4
    msg = _error(values)
    assert "do not fit the Docker host" in msg and "docker.memoryGb is 4" in msg and "What would fit" in msg


def test_target_mismatch():
    assert "does not match the stack target" in _error(_with(target="kubernetes"))


# --------------------------------------------------------------------------- Modelfile rendering
def test_modelfile_render_only_valid_instructions():
    v = ModelfileVariant(name="r", base="qwen3:0.6b", parameters={"temperature": 0.2, "num_ctx": 8192, "stop": ["<|im_end|>"]},
                         system="Think.", messages=[{"role": "user", "content": "hi"}])
    text = render_modelfile(v, "qwen3:0.6b")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "FROM qwen3:0.6b"
    assert {ln.split()[0] for ln in lines} <= {"FROM", "PARAMETER", "SYSTEM", "MESSAGE"}
    assert "PARAMETER num_ctx 8192" in lines and 'PARAMETER stop "<|im_end|>"' in lines
    assert 'SYSTEM """Think."""' in lines


def test_server_settings_environment_is_real_vars_only():
    env = OllamaServerSettings(numParallel=2, flashAttention=True, kvCacheType="q8_0").environment()
    assert env["OLLAMA_NUM_PARALLEL"] == "2" and env["OLLAMA_KV_CACHE_TYPE"] == "q8_0"
    assert all(k.startswith("OLLAMA_") for k in env)


def test_memory_covers_max_loaded_models_and_variant_context():
    one = OllamaStackArgs(models=["phi4-mini:3.8b-q4_K_M", "qwen3:0.6b"]).memory()
    two = OllamaStackArgs(models=["phi4-mini:3.8b-q4_K_M", "qwen3:0.6b"], server={"maxLoadedModels": 2}).memory()
    assert two.total_bytes > one.total_bytes
    longer = OllamaStackArgs(models=["qwen3:0.6b"], modelfiles=[{"name": "x", "base": "qwen3:0.6b", "parameters": {"num_ctx": 16384}}])
    assert longer.memory().total_bytes > OllamaStackArgs(models=["qwen3:0.6b"]).memory().total_bytes


# --------------------------------------------------------------------------- docker target (dev stack)
@pytest.fixture(scope="module")
def dev(built):
    build = built("dev")
    return build, yaml.safe_load((build.out_dir / "compose.yaml").read_text())


def _containers(synth):
    return {r.inputs["name"]: r.inputs for r in synth.resources if r.type == "docker:index/container:Container"}


def test_docker_hardening(dev):
    build, _ = dev
    containers = _containers(build.synth)
    assert set(containers) == {"ollama", "ollama-pull", "ollama-webui", "ollama-webui-proxy"}
    for name, c in containers.items():
        assert c["readOnly"] is True, name
        assert c["capabilities"]["drops"] == ["ALL"], name
        assert "no-new-privileges:true" in c["securityOpts"], name
        assert c.get("privileged") is False and "networkMode" not in c, name
        assert c["memory"] > 0 and "@sha256:" in c["image"], name
        for port in c.get("ports", []):
            assert port["ip"] == "127.0.0.1", name
    server = containers["ollama"]
    assert server["healthcheck"]["tests"] == ["CMD", "ollama", "list"] and server["wait"] is True
    assert server["memory"] <= 16 * 1024
    pull = containers["ollama-pull"]
    assert pull["attach"] is True and pull["mustRun"] is False and pull["restart"] == "no"
    assert pull.get("user") == server.get("user")  # it writes the models volume the server reads
    assert "ollama pull phi4-mini:3.8b-q4_K_M" in pull["command"][0] and "ollama create coder" in pull["command"][0]
    assert [n["name"] for n in pull["networksAdvanced"]] == ["ollama-egress"]  # downloads with a server of its own
    assert "ollama serve" in pull["command"][0] and "OLLAMA_HOST=127.0.0.1:11434" in pull["envs"]
    webui = containers["ollama-webui"]
    env = dict(e.split("=", 1) for e in webui["envs"])
    assert env["WEBUI_AUTH"] == "True" and env["ENABLE_SIGNUP"] == "False"
    # Open WebUI 0.6.36 refuses even the first sign-up with ENABLE_SIGNUP=False unless this is on
    # (routers/auths.py:575-586): without it a fresh install has no admin (docs/ollama.md).
    assert env["ENABLE_INITIAL_ADMIN_SIGNUP"] == "True"
    assert env["OLLAMA_BASE_URL"] == "http://ollama:11434"
    # The key is a file only: WEBUI_SECRET_KEY_FILE points upstream start.sh (0.6.36 :17-21) at the uploaded
    # secret; the image's own command runs (no entrypoint of ours reads or exports the key).
    assert "WEBUI_SECRET_KEY" not in env and "WEBUI_JWT_SECRET_KEY" not in env
    assert env["WEBUI_SECRET_KEY_FILE"] == "/run/secrets/open-webui/webui_secret_key"
    assert "entrypoints" not in webui and "command" not in webui
    [upload] = webui["uploads"]
    assert upload["file"] == env["WEBUI_SECRET_KEY_FILE"] and upload["content"] == "[secret]"
    assert upload["permissions"] == "0400"


def test_docker_pull_runs_after_healthy_server(dev):
    _, compose = dev
    assert "depends_on" not in compose["services"]["ollama-pull"]
    assert compose["services"]["ollama"]["depends_on"] == {"ollama-pull": {"condition": "service_completed_successfully"}}
    assert compose["networks"]["ollama-internal"]["internal"] is True


def test_compose_parity(dev):
    build, compose = dev
    containers = _containers(build.synth)
    records = {r.inputs["name"]: r for r in build.synth.resources if r.type == "docker:index/container:Container"}
    by_key = {r.key: r for r in build.synth.resources}
    assert set(compose["services"]) == set(containers)
    for name, c in containers.items():
        svc = compose["services"][name]
        assert svc["image"] == c["image"]
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
        assert svc["security_opt"] == c["securityOpts"]
        assert svc["mem_limit"] == f"{c['memory']}m"
        assert svc.get("environment", {}) == dict(e.split("=", 1) for e in c.get("envs", []))
        # ports and the host address they are published on
        assert [(p["target"], p["published"], p["host_ip"], p["protocol"]) for p in svc.get("ports", [])] == [
            (p["internal"], str(p["external"]), p["ip"], p.get("protocol", "tcp")) for p in c.get("ports", [])]
        # healthcheck (same test command and timings)
        hc = c.get("healthcheck")
        if hc:
            assert svc["healthcheck"] == {"test": hc["tests"], "interval": hc["interval"], "timeout": hc["timeout"],
                                          "retries": hc["retries"], "start_period": hc["startPeriod"]}
        else:
            assert "healthcheck" not in svc
        assert svc.get("user") == c.get("user")
        # networks with their aliases
        assert svc.get("networks", {}) == {n["name"]: ({"aliases": n["aliases"]} if n.get("aliases") else {})
                                           for n in c.get("networksAdvanced", [])}
        # named volumes at the same paths, same read-only flag
        assert [(v["type"], v["source"], v["target"], v.get("read_only", False)) for v in svc.get("volumes", [])] == [
            ("volume", v["volumeName"], v["containerPath"], v.get("readOnly", False)) for v in c.get("volumes", [])]
        assert svc.get("tmpfs", []) == [f"{path}:{opts}" for path, opts in sorted(c.get("tmpfs", {}).items())]
        assert svc.get("command") == c.get("command") and svc.get("entrypoint") == c.get("entrypoints")
        # depends_on: every explicit Pulumi dependency on a container, with the matching compose condition
        deps = {}
        for key in records[name].depends_on:
            dep = by_key.get(key)
            if dep is None or dep.type != "docker:index/container:Container":
                continue
            condition = ("service_healthy" if dep.inputs.get("healthcheck") else
                         "service_completed_successfully" if dep.inputs.get("restart") == "no" else "service_started")
            deps[dep.inputs["name"]] = {"condition": condition}
        assert svc.get("depends_on", {}) == deps
    assert compose["services"]["ollama-webui"]["depends_on"]["ollama-pull"] == {"condition": "service_completed_successfully"}
    assert compose["networks"] == {r.inputs["name"]: {k: v for k, v in (("driver", r.inputs.get("driver")),
                                                                         ("internal", r.inputs.get("internal"))) if v is not None}
                                   for r in build.synth.resources if r.type == "docker:index/network:Network"}


def test_dev_outputs_models_and_modelfiles(dev):
    build, _ = dev
    files = {p.name for p in (build.out_dir / "files").rglob("*.Modelfile")}
    assert files == {"reasoning.Modelfile", "coder.Modelfile"}


# --------------------------------------------------------------------------- kubernetes target (cpu stack)
@pytest.fixture(scope="module")
def cpu(built):
    return built("cpu")


def _objects(build):
    return {(o["kind"], o["metadata"]["name"]): o for o in
            (yaml.safe_load(p.read_text()) for p in (build.out_dir / "manifests").glob("*.yaml"))}


def _fill_job(objs) -> dict:
    [job] = [o for (kind, name), o in objs.items() if kind == "Job" and name.startswith("ollama-fill-")]
    return job


def test_k8s_security(cpu):
    objs = _objects(cpu)
    fill = ("Job", _fill_job(objs)["metadata"]["name"])
    for key in [("Deployment", "ollama"), ("Deployment", "ollama-webui"), fill]:
        pod = objs[key]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 10000
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"] and "@sha256:" in c["image"]
            assert c["resources"]["limits"]["memory"]
            assert not {e["name"] for e in c.get("env", [])} & {"WEBUI_SECRET_KEY", "WEBUI_JWT_SECRET_KEY"}
    server = objs[("Deployment", "ollama")]
    assert server["spec"]["strategy"]["type"] == "Recreate" and server["spec"]["replicas"] == 1
    assert server["metadata"]["labels"]["app.kubernetes.io/component"] == "model-server"
    assert objs[("Service", "ollama")]["spec"]["type"] == "ClusterIP"
    webui = objs[("Deployment", "ollama-webui")]["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["mountPath"]: m for m in webui["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in webui["env"]}
    # The same key file as on Docker: the Secret mounted as a directory (refreshed by the kubelet, no subPath).
    assert env["WEBUI_SECRET_KEY_FILE"] == "/run/secrets/open-webui/webui_secret_key"
    key_mount = mounts["/run/secrets/open-webui"]
    assert key_mount["readOnly"] is True and "subPath" not in key_mount
    volumes = {v["name"]: v for v in objs[("Deployment", "ollama-webui")]["spec"]["template"]["spec"]["volumes"]}
    assert volumes[key_mount["name"]]["secret"]["secretName"] == "ollama-webui-secret-key"
    assert objs[fill]["spec"]["backoffLimit"] == 2


def test_k8s_models_are_filled_by_a_job_and_mounted_read_only(cpu):
    """The server reaches nothing and only reads the store; the fill Job pulls what is missing (ollama-helm #154)."""
    objs = _objects(cpu)
    job = _fill_job(objs)
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][-1]
    assert "if ollama show phi4-mini:3.8b-q4_K_M >/dev/null 2>&1; then echo" in script
    assert "else ollama pull phi4-mini:3.8b-q4_K_M; fi" in script
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["OLLAMA_HOST"] == "127.0.0.1:11434" and env["OLLAMA_MODELS"] == "/models"
    server = objs[("Deployment", "ollama")]["spec"]["template"]["spec"]["containers"][0]
    assert {m["mountPath"]: m.get("readOnly") for m in server["volumeMounts"]}["/models"] is True
    assert {e["name"]: e["value"] for e in server["env"]}["OLLAMA_NOPRUNE"] == "1"
    policy = objs[("NetworkPolicy", "ollama")]["spec"]
    assert [p["port"] for r in policy["egress"] for p in r["ports"]] == [53, 53], "DNS only"
    fill_policy = objs[("NetworkPolicy", job["metadata"]["name"])]["spec"]
    [https] = [r for r in fill_policy["egress"] if r["ports"] == [{"port": 443, "protocol": "TCP"}]]
    assert "10.0.0.0/8" in https["to"][0]["ipBlock"]["except"]


def test_k8s_network_policy_admits_only_webui_smoke_and_clients(cpu):
    policy = _objects(cpu)[("NetworkPolicy", "ollama")]
    peers = [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in policy["spec"]["ingress"][0]["from"]]
    assert peers == ["open-webui", "ollama-smoke", "rag-api"]


def test_gate_passes_on_cpu_and_schema_valid(cpu):
    from slm_deploy.gate.schema_validation import validate_manifests

    assert validate_manifests(cpu.out_dir / "manifests") == []
    assert cpu.gate.ok, [f.check_id for f in cpu.gate.failed]


def test_gate_passes_on_dev(dev):
    build, _ = dev
    assert build.gate.ok, [f"{f.check_id} {f.resource} {f.message}" for f in build.gate.failed]


def test_synth_records_the_stack_files_explicit_opt_out_for_docker_root(synthesized):
    synth = synthesized("dev")
    comp = next(r for r in synth.resources if r.type == "slm:serving:OllamaStack")
    [opt_out] = comp.inputs["securityOptOuts"]
    assert opt_out["setting"] == "runAsNonRoot" and opt_out.get("container") is None  # the whole component
    assert "root-owned" in opt_out["reason"]


def test_docker_root_is_never_implicit():
    values = copy.deepcopy(DOCKER)
    del values["ollama"]["dockerUser"]
    msg = _error(values)
    assert "stacks/Pulumi.t.yaml" in msg and "runs as the images' own user (root) unless dockerUser is set" in msg
    values["ollama"]["optOuts"] = [{"setting": "runAsNonRoot", "reason": "root-owned named volumes on this laptop host"}]
    validate_values(values, "t")
