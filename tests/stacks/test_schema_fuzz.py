"""hypothesis fuzzing of the stack schema: valid input renders valid manifests; invalid input
gives located errors (never a traceback, never another exception type)."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from stacks.loader import load_stack
from stacks.errors import ConfigError
from slm_deploy.gate.schema_validation import validate_manifests
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render

dns_label = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
label_value = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,40}[A-Za-z0-9])?", fullmatch=True)
label_key = st.from_regex(r"([a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\.){0,2}[a-z]{2,5}/[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True)

valid_stack = st.fixed_dictionaries(
    {
        "slm-deploy:target": st.just("kubernetes"),
        "slm-deploy:namespace": dns_label,
        "slm-deploy:partOf": label_value,
        "slm-deploy:cluster": st.fixed_dictionaries(
            {},
            optional={
                "keda": st.booleans(),
                "prometheusOperator": st.booleans(),
                "storageClass": dns_label,
                "gpuNodeLabel": label_key,
            },
        ),
    }
)

junk_value = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(string.printable, max_size=12), st.booleans(), st.none(), st.lists(st.integers(), max_size=2))
invalid_stack = st.one_of(
    st.dictionaries(st.from_regex(r"slm-deploy:[a-zA-Z]{1,12}", fullmatch=True), junk_value, min_size=1, max_size=4),
    st.fixed_dictionaries({"slm-deploy:namespace": st.text(string.ascii_uppercase + "_", min_size=1, max_size=10)}),
    st.fixed_dictionaries({"slm-deploy:cluster": st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=8), junk_value, min_size=1, max_size=3)}),
)

def _apply_valid(out: Path) -> None:
    """Every rendered object also passes the gate's apply-validity stage (API-server rules)."""
    from slm_deploy.gate.apply_validity import check_compose, check_kubernetes

    objects = [(p.name, yaml.safe_load(p.read_text())) for p in sorted((out / "manifests").glob("*.yaml"))]
    results = check_kubernetes(objects)
    if (out / "compose.yaml").exists():
        results += check_compose(yaml.safe_load((out / "compose.yaml").read_text()))
    assert [(r.check_id, r.resource, r.problems) for r in results if r.problems] == []


FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _write(root: Path, config: dict) -> None:
    (root / "stacks" / "Pulumi.fuzz.yaml").write_text(yaml.safe_dump({"config": config}))


@FUZZ
@given(config=valid_stack)
def test_valid_config_renders_schema_valid_manifests(scratch_project: Path, config: dict):
    _write(scratch_project, config)
    loaded = load_stack("fuzz", scratch_project)
    out = scratch_project / "build"
    render(synth_stack(loaded), out)
    assert validate_manifests(out / "manifests") == []
    _apply_valid(out)


@FUZZ
@given(config=invalid_stack)
def test_invalid_config_gives_located_errors(scratch_project: Path, config: dict):
    _write(scratch_project, config)
    try:
        load_stack("fuzz", scratch_project)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            text = str(problem)
            assert text.startswith("stacks/Pulumi.fuzz.yaml")
            assert "\n" not in text
            assert problem.key.startswith("slm-deploy")


vllm_entry = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["phi4", "qwen", "chat-a"]),
        "model": st.sampled_from(["phi-4-mini-instruct", "qwen3-0.6b", "qwen3-8b", "qwen3-14b", "smollm2-1.7b-instruct"]),
    },
    optional={
        "gpu": st.sampled_from(["l4", "a10g", "l40s", "a100-80gb", "h100-80gb"]),
        "concurrency": st.integers(min_value=1, max_value=64),
        "maxModelLen": st.sampled_from([2048, 4096, 8192, 32768, 200000]),
        "quantization": st.sampled_from(["bf16", "fp8", "awq"]),
        "gpuCount": st.sampled_from([1, 2, 3, 4]),
        "toolCalling": st.booleans(),
        "replicas": st.integers(min_value=1, max_value=3),
    },
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=vllm_entry)
def test_vllm_config_either_renders_valid_manifests_or_says_why(scratch_project: Path, entry: dict):
    """Random vLLM settings: a fitting one renders schema-valid manifests; any other is a located error."""
    _write(scratch_project, {"slm-deploy:namespace": "fuzz", "slm-deploy:vllm": [entry]})
    try:
        loaded = load_stack("fuzz", scratch_project)
    except ConfigError as exc:
        for problem in exc.problems:
            assert str(problem).startswith("stacks/Pulumi.fuzz.yaml")
            assert problem.key.startswith("slm-deploy:vllm[0]") and problem.message
        return
    out = scratch_project / "build"
    render(synth_stack(loaded), out)
    assert validate_manifests(out / "manifests") == []
    _apply_valid(out)


# --------------------------------------------------------------------------- Docker targets (issue 11)
# Ollama on a Docker host and ONNX edge servers on a Docker box: every accepted random config renders a compose
# file that passes the apply-validity stage's compose rules (no host port published twice, every referenced
# volume/network/secret/config declared); every refused one is located lines only.

host_port = st.sampled_from([3000, 8000, 8080, 11434, 18000])
ROOT_OPT_OUT = {"optOuts": [{"setting": "runAsNonRoot", "reason": "named volumes are root owned on this laptop host",
                             "approver": "platform-security@example.com", "expires": "2027-01-31"}]}
ollama_on_docker = st.tuples(
    st.fixed_dictionaries(
        {"models": st.lists(st.sampled_from(["qwen3-0.6b", "qwen3:0.6b", "qwen3:1.7b-q8_0", "smollm2-1.7b-instruct",
                                             "phi4-mini:3.8b-q4_K_M"]), min_size=1, max_size=2, unique=True)},
        optional={
            "authProxy": st.booleans(),
            "publishAddress": st.sampled_from(["127.0.0.1", "0.0.0.0", "::1"]),
            "ollamaPort": host_port,
            "proxyPort": host_port,
            "gpu": st.sampled_from(["none", "all", ["0"], ["0", "1"]]),
            "webui": st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "hostPort": host_port}),
            "server": st.fixed_dictionaries({}, optional={"numParallel": st.integers(1, 4),
                                                          "contextLength": st.sampled_from([2048, 4096, 16384])}),
        },
    ),
    st.sampled_from([{"dockerUser": "10001:10001"}, {"dockerUser": "20000"}, ROOT_OPT_OUT]),
).map(lambda parts: {**parts[0], **parts[1]})
edge_on_docker = st.fixed_dictionaries(
    {"name": st.sampled_from(["edge-a", "edge-b", "box"]), "model": st.just("phi-4-mini-instruct")},
    optional={
        "hardwareTier": st.sampled_from(["cpu-8gb", "cpu-16gb", "cpu-32gb"]),
        "maxLength": st.sampled_from([512, 1024, 2048]),
        "concurrency": st.integers(1, 2),
        "port": host_port,
        "publishAddress": st.sampled_from(["127.0.0.1", "0.0.0.0"]),
        "platform": st.sampled_from(["linux/amd64", "linux/arm64"]),
    },
)
docker_host = st.fixed_dictionaries({"memoryGb": st.sampled_from([8, 16, 32])},
                                    optional={"host": st.sampled_from(["unix:///var/run/docker.sock", "ssh://slm@edge-box"])})
edge_nodes = st.lists(edge_on_docker, min_size=1, max_size=2)
docker_stack = st.one_of(
    st.fixed_dictionaries({"slm-deploy:docker": docker_host, "slm-deploy:ollama": ollama_on_docker}),
    st.fixed_dictionaries({"slm-deploy:docker": docker_host, "slm-deploy:onnxEdge": edge_nodes}),
    st.fixed_dictionaries({"slm-deploy:docker": docker_host, "slm-deploy:ollama": ollama_on_docker,
                           "slm-deploy:onnxEdge": edge_nodes}),
).map(lambda config: {"slm-deploy:target": "docker", **config})

_RENDERS_ON_DOCKER = {  # explicit examples that load, so the compose rules always judge a real file
    "slm-deploy:target": "docker", "slm-deploy:docker": {"memoryGb": 32},
    "slm-deploy:ollama": {"models": ["qwen3:0.6b"], "authProxy": True, "publishAddress": "0.0.0.0",
                          "dockerUser": "10001:10001", "webui": {"hostPort": 3000}},
    "slm-deploy:onnxEdge": [{"name": "edge-a", "model": "phi-4-mini-instruct", "hardwareTier": "cpu-8gb",
                             "maxLength": 1024, "port": 18000}],
}


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(config=_RENDERS_ON_DOCKER)
@example(config={"slm-deploy:target": "docker", "slm-deploy:docker": {"memoryGb": 16},
                 "slm-deploy:onnxEdge": [{"name": "edge-a", "model": "phi-4-mini-instruct", "maxLength": 1024},
                                         {"name": "edge-b", "model": "phi-4-mini-instruct", "maxLength": 512,
                                          "port": 8080, "publishAddress": "0.0.0.0"}]})
@given(config=docker_stack)
def test_docker_config_either_renders_an_apply_valid_compose_file_or_says_why(scratch_project: Path, config: dict):
    _write(scratch_project, config)
    try:
        loaded = load_stack("fuzz", scratch_project)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            text = str(problem)
            assert text.startswith("stacks/Pulumi.fuzz.yaml:") and "\n" not in text, text
            assert problem.key.startswith(("slm-deploy:ollama", "slm-deploy:onnxEdge", "slm-deploy:docker")), text
        event(f"refused at load: {exc.problems[0].message[:40]}")
        return
    out = Path(tempfile.mkdtemp(dir=scratch_project)) / "build"
    render(synth_stack(loaded), out)
    compose = yaml.safe_load((out / "compose.yaml").read_text())
    assert compose["services"], "a Docker stack renders services"
    event("rendered")
    assert not (out / "manifests").exists() or not any((out / "manifests").iterdir())
    _apply_valid(out)


# --------------------------------------------------------------------------- typed strings (issue 11)
# Random text in the string fields that reach object names, volumes, URLs and proxy configs: either the field's
# type refuses it with a located line, or what it accepts renders manifests the apply-validity stage passes.

def _text_or(*good: str):
    return st.one_of(st.sampled_from(good), st.text(string.ascii_letters + string.digits + "-._/: \"'", max_size=24))


typed_vllm_entry = st.fixed_dictionaries(
    {"name": _text_or("phi4", "chat-a"), "model": st.just("qwen3-0.6b")},
    optional={
        "servedModelName": _text_or("chat", "org/chat:v1"),
        "source": st.one_of(
            st.fixed_dictionaries({"prefilledClaim": _text_or("weights", "team.models")}),
            st.fixed_dictionaries({"mirror": _text_or("https://hf-mirror.internal", "https://10.0.0.5:8443/hub"),
                                   "caBundleSecret": _text_or("mirror-ca")})),
        "loraAdapters": st.lists(st.fixed_dictionaries(
            {"name": _text_or("sql"), "hfRepo": _text_or("org/sql-lora"), "revision": _text_or("a" * 40, "main")}),
            max_size=1),
    },
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(entry={"name": "chat-a", "model": "qwen3-0.6b", "servedModelName": "org/chat:v1",
                "source": {"prefilledClaim": "team.models"}})
@given(entry=typed_vllm_entry)
def test_typed_strings_either_render_apply_valid_manifests_or_are_refused_where_they_are(scratch_project: Path, entry: dict):
    _write(scratch_project, {"slm-deploy:namespace": "fuzz", "slm-deploy:cluster": {"rwxStorageClass": "nfs"},
                             "slm-deploy:vllm": [entry]})
    try:
        loaded = load_stack("fuzz", scratch_project)
    except ConfigError as exc:
        for problem in exc.problems:
            assert str(problem).startswith("stacks/Pulumi.fuzz.yaml:") and "\n" not in str(problem), str(problem)
            assert problem.key.startswith("slm-deploy:vllm[0]"), str(problem)
        event("refused at load")
        return
    event("rendered")
    out = Path(tempfile.mkdtemp(dir=scratch_project)) / "build"
    render(synth_stack(loaded), out)
    assert validate_manifests(out / "manifests") == []
    _apply_valid(out)
