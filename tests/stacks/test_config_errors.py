"""Every kind of bad stack input gives one located line: file, key, value, what is allowed."""

from __future__ import annotations

import pytest

from stacks.loader import load_stack
from stacks.errors import ConfigError
from tests.conftest import stack_problems, write_stack


def test_unknown_top_level_key_suggests_the_close_one(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:namespce: x\n")
    assert line.startswith("stacks/Pulumi.t.yaml:2: slm-deploy:namespce = 'x':")
    assert "did you mean 'namespace'?" in line


def test_unknown_nested_key_suggests_the_close_one(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:cluster:\n    kedaa: true\n")
    assert "stacks/Pulumi.t.yaml:3: slm-deploy:cluster.kedaa = True:" in line
    assert "did you mean 'keda'?" in line
    assert "allowed:" in line and "prometheusOperator" in line


def test_wrong_type_against_pulumi_yaml_schema(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:namespace: 12\n")
    assert "slm-deploy:namespace = 12: must be string" in line


def test_wrong_type_nested(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:cluster:\n    keda: maybe\n")
    assert "slm-deploy:cluster.keda = 'maybe'" in line and "valid boolean" in line


def test_out_of_range_value(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:docker:\n    memoryGb: -4\n")
    assert "stacks/Pulumi.t.yaml:3: slm-deploy:docker.memoryGb = -4: Input should be greater than 0" in line


def test_value_not_in_allowed_set(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:target: nomad\n")
    assert "slm-deploy:target = 'nomad'" in line and "'kubernetes' or 'docker'" in line


def test_invalid_namespace_says_what_is_allowed(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:namespace: Bad_NS\n")
    assert "slm-deploy:namespace = 'Bad_NS': must be a DNS-1123 label" in line


def test_yaml_syntax_error_names_the_line(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:target: kubernetes\n   bad: [\n")
    assert line.startswith("stacks/Pulumi.t.yaml:")
    assert "invalid YAML" in line
    assert line.split(":")[1].isdigit()


def test_missing_stack_file_lists_the_stacks(scratch_project):
    write_stack(scratch_project, "other", "config: {}\n")
    with pytest.raises(ConfigError) as info:
        load_stack("nope", scratch_project)
    assert str(info.value) == "stacks/Pulumi.nope.yaml: no such stack file (stacks: other)"


def test_secret_key_in_plain_text_is_refused(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:apiKey: hunter2hunter2\n")
    assert "slm-deploy:apiKey: must be a secret" in line
    assert "hunter2" not in line


def test_secure_value_on_a_plain_key_is_refused(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:namespace:\n    secure: v1:abc\n")
    assert "is not a secret key" in line


def test_several_problems_are_all_reported(scratch_project):
    lines = stack_problems(scratch_project, "config:\n  slm-deploy:targt: x\n  slm-deploy:namespce: y\n")
    assert len(lines) == 2


def test_defaults_come_from_pulumi_yaml(scratch_project):
    write_stack(scratch_project, "t", "config: {}\n")
    loaded = load_stack("t", scratch_project)
    assert loaded.config.target == "kubernetes"
    assert loaded.config.namespace == "slm"
    assert loaded.values["partOf"] == "slm-deploy"


def test_secure_values_become_placeholders_never_plaintext(scratch_project):
    write_stack(scratch_project, "t", "config:\n  slm-deploy:apiKey:\n    secure: v1:ZW5jcnlwdGVk\n")
    loaded = load_stack("t", scratch_project)
    assert loaded.secret_keys == {"apiKey"}
    assert loaded.values["apiKey"] == "[secret:apiKey]"


def test_foreign_namespaces_pass_through(scratch_project):
    write_stack(scratch_project, "t", "config:\n  kubernetes:context: kind-dev\n")
    assert load_stack("t", scratch_project).foreign == {"kubernetes:context": "kind-dev"}


def test_missing_required_key_in_a_component(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:vllm:\n    - name: phi4\n      gpu: l4\n")
    assert line == "stacks/Pulumi.t.yaml:3: slm-deploy:vllm[0].model: required key is missing"


def test_invalid_combination_component_on_the_wrong_target(scratch_project):
    lines = stack_problems(
        scratch_project,
        "config:\n  slm-deploy:target: docker\n  slm-deploy:vllm:\n    - name: phi4\n      model: phi-4-mini-instruct\n",
    )
    assert len(lines) == 1 and "stacks/Pulumi.t.yaml" in lines[0]
    assert "docker" in lines[0] and "vllm" in lines[0].lower()


def test_invalid_combination_gpu_count_and_tensor_parallel(scratch_project):
    [line] = stack_problems(
        scratch_project,
        "config:\n  slm-deploy:vllm:\n    - name: phi4\n      model: phi-4-mini-instruct\n"
        "      gpuCount: 3\n      tensorParallelSize: 2\n",
    )
    assert line.startswith("stacks/Pulumi.t.yaml:3: slm-deploy:vllm[0]")
    assert "3" in line and "2" in line and "divisible" in line


def test_a_model_that_does_not_fit_says_numbers_and_what_would(scratch_project):
    [line] = stack_problems(
        scratch_project,
        "config:\n  slm-deploy:vllm:\n    - name: big\n      model: qwen3-14b\n      gpu: l4\n      gpuCount: 1\n",
    )
    assert "GiB" in line and "would fit" in line.lower()


def test_ollama_on_a_small_host_suggests_stack_keys_not_engine_settings(scratch_project):
    """Issue #16: what would fit is said in the keys the user writes (server.contextLength, a model tag the
    catalog offers, docker.memoryGb), never as num_ctx / OLLAMA_* variables or a format the model lacks."""
    [line] = stack_problems(
        scratch_project,
        "config:\n  slm-deploy:target: docker\n  slm-deploy:docker:\n    memoryGb: 8\n  slm-deploy:ollama:\n"
        "    models: [qwen3-8b]\n    dockerUser: '10001:10001'\n",
    )
    assert "the models do not fit the Docker host" in line
    assert "a shorter context: server.contextLength: 2048" in line
    assert "server.kvCacheType: q8_0 with server.flashAttention: true" in line
    assert "a bigger host: docker.memoryGb: 16" in line
    assert "OLLAMA_" not in line and "num_ctx" not in line and "Q4_0" not in line


def test_a_cpu_tier_as_a_vllm_gpu_says_where_cpu_tiers_go(scratch_project):
    """Issue #16: not 'did you mean h100-80gb' but the kind of mistake it is."""
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:vllm:\n    - name: q\n      model: qwen3-4b\n      gpu: cpu-8gb\n")
    assert line.startswith("stacks/Pulumi.t.yaml:5: slm-deploy:vllm[0].gpu = 'cpu-8gb': cpu-8gb is a CPU tier; vLLM")
    assert "ollama on a Docker host (docker.memoryGb) and onnxEdge (hardwareTier)" in line


def test_a_gpu_as_an_edge_hardware_tier_says_where_gpus_go(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:target: docker\n  slm-deploy:onnxEdge:\n    - name: e\n"
                                        "      model: phi-4-mini-instruct\n      hardwareTier: l4\n")
    assert "slm-deploy:onnxEdge[0].hardwareTier = 'l4': l4 is a GPU, not a CPU tier (cpu-4gb, " in line
    assert "GPUs are for vllm services (gpu)" in line


def test_gated_model_without_hf_token_is_a_located_error(scratch_project):
    [line] = stack_problems(
        scratch_project,
        "config:\n  slm-deploy:vllm:\n    - name: gem\n      model: gemma-3-4b-it\n      gpu: l4\n",
    )
    assert line.startswith("stacks/Pulumi.t.yaml:4: slm-deploy:vllm[0].model = 'gemma-3-4b-it': gemma-3-4b-it is gated")
    assert "pulumi config set --secret hfToken" in line


def test_gated_model_with_hf_token_secret_loads(scratch_project):
    write_stack(
        scratch_project, "t",
        "config:\n  slm-deploy:hfToken:\n    secure: v1:AAAA\n  slm-deploy:vllm:\n    - name: gem\n      model: gemma-3-4b-it\n      gpu: l4\n",
    )
    assert load_stack("t", scratch_project).secret_keys == {"hfToken"}


# --------------------------------------------------------------------------- template syntax (issue #10, item 1)

_VLLM = """config:
  slm-deploy:namespace: slm-x
  slm-deploy:vllm:
    - name: phi4-mini
      model: phi-4-mini-instruct
      gpu: l4
      activationQuery: {value}
"""


@pytest.mark.parametrize("value", ['"phi4 {{ .Values.x }}"', '"phi4 {{ .Release.Name }}"', '"a {% raw %}"', '"{{- x }}"'])
def test_template_syntax_in_a_user_string_is_refused_at_load(scratch_project, value):
    [line] = stack_problems(scratch_project, _VLLM.format(value=value))
    assert line.startswith("stacks/Pulumi.t.yaml:7: slm-deploy:vllm[0].activationQuery = ")
    assert "template syntax ('{{' or '{%') is not allowed here" in line


@pytest.mark.parametrize("value", ['"phi4 {{ .Values.x }}"', '"{{- x }}"'])
def test_template_syntax_in_a_typed_string_is_refused_by_its_type(scratch_project, value):
    [line] = stack_problems(scratch_project, _VLLM.replace("activationQuery", "servedModelName").format(value=value))
    assert line.startswith("stacks/Pulumi.t.yaml:7: slm-deploy:vllm[0].servedModelName = ")
    assert "must be a model name" in line


def test_template_syntax_in_map_keys_and_nested_strings_is_refused(scratch_project):
    text = """config:
  slm-deploy:target: kubernetes
  slm-deploy:namespace: slm-x
  slm-deploy:ollama:
    models: [qwen3-0.6b]
    clients:
      - "{{ .Values.k }}": rag-api
    modelfiles:
      - name: support
        base: qwen3-0.6b
        system: "Answer {{ .Values.secret }}"
"""
    lines = stack_problems(scratch_project, text)
    assert any("slm-deploy:ollama.clients[0].{{ .Values.k }}" in x for x in lines), lines
    assert any(x.startswith("stacks/Pulumi.t.yaml:11: slm-deploy:ollama.modelfiles[0].system") for x in lines), lines


def test_a_template_field_may_be_a_template_but_not_a_helm_lookalike(scratch_project):
    base = """config:
  slm-deploy:target: kubernetes
  slm-deploy:namespace: slm-x
  slm-deploy:ollama:
    models: [qwen3-0.6b]
    modelfiles:
      - name: support
        base: qwen3-0.6b
        template: "{value}"
"""
    write_stack(scratch_project, "ok", base.format(value="{{ if .System }}{{ .System }}{{ end }}{{ .Prompt }}"))
    load_stack("ok", scratch_project)
    [line] = stack_problems(scratch_project, base.format(value="{{ .Values.x }}{{ .Prompt }}"))
    assert "slm-deploy:ollama.modelfiles[0].template" in line and "Helm template" in line


def test_opt_out_approver_without_expiry_is_refused_at_load(scratch_project):
    text = """config:
  slm-deploy:target: docker
  slm-deploy:ollama:
    models: [qwen3-0.6b]
    optOuts:
      - setting: runAsNonRoot
        reason: named volumes are root owned on this host
        approver: sec@example.com
"""
    [line] = stack_problems(scratch_project, text)
    assert line.startswith("stacks/Pulumi.t.yaml:6: slm-deploy:ollama.optOuts[0]") and "approver and expires go together" in line


def test_opt_out_reason_must_be_words(scratch_project):
    text = """config:
  slm-deploy:target: docker
  slm-deploy:ollama:
    models: [qwen3-0.6b]
    optOuts:
      - setting: runAsNonRoot
        reason: xxxxxxxxxxxxxxxxxxxxxxxx
"""
    [line] = stack_problems(scratch_project, text)
    assert "slm-deploy:ollama.optOuts[0].reason" in line and "in words" in line
