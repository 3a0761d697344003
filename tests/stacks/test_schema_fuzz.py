"""hypothesis fuzzing of the stack schema: valid input renders valid manifests; invalid input
gives located errors (never a traceback, never another exception type)."""

from __future__ import annotations

import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
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
