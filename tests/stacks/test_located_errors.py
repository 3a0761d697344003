"""Cross-field rules point at the offending entry (list item or key), not at `config:`; independent
problems are reported together, one located line each."""

from __future__ import annotations

import pytest

from stacks.loader import load_stack
from tests.conftest import stack_problems, write_stack

VLLM = "    - name: {name}\n      model: {model}\n"


def vllm(name: str, model: str = "qwen3-0.6b") -> str:
    return VLLM.format(name=name, model=model)

OLLAMA_DOCKER = (
    "  slm-deploy:ollama:\n    models: [qwen3-0.6b]\n    optOuts:\n      - setting: runAsNonRoot\n"
    "        reason: named volumes are root-owned on this laptop host; all capabilities are dropped\n"
)


def test_a_duplicate_vllm_name_points_at_the_second_entry(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:vllm:\n" + vllm("a") + vllm("b", "qwen3-1.7b")
                    + vllm("a", "smollm2-1.7b-instruct"))
    assert line.startswith("stacks/Pulumi.t.yaml:7: slm-deploy:vllm[2].name = 'a': 'a' is already the name of vllm[0]")


def test_a_duplicate_edge_node_name_points_at_its_entry(scratch_project):
    node = "    - name: box\n      model: phi-4-mini-instruct\n      hardwareTier: cpu-16gb\n"
    lines = stack_problems(scratch_project, "config:\n  slm-deploy:target: docker\n  slm-deploy:onnxEdge:\n" + node + node)
    assert lines[0].startswith("stacks/Pulumi.t.yaml:7: slm-deploy:onnxEdge[1].name = 'box': 'box' is already the name")
    # ... and, independently, both publish the default host port 8000
    assert lines[1].startswith("stacks/Pulumi.t.yaml:7: slm-deploy:onnxEdge[1].port: host port 8000 on 127.0.0.1 is "
                               "already published by onnxEdge[0].port") and len(lines) == 2


def test_a_component_on_the_wrong_target_points_at_the_component(scratch_project):
    lines = stack_problems(scratch_project, "config:\n  slm-deploy:target: docker\n  slm-deploy:monitoring:\n    mode: standalone\n"
                   + OLLAMA_DOCKER)
    assert lines == ["stacks/Pulumi.t.yaml:3: slm-deploy:monitoring: monitoring needs target kubernetes; target is docker"]


def test_an_entry_target_mismatch_points_at_the_entry(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:onnxEdge:\n    - name: box\n      model: phi-4-mini-instruct\n"
                    "      hardwareTier: cpu-16gb\n      image: registry.example.com/edge@sha256:" + "a" * 64 + "\n")
    assert line.startswith("stacks/Pulumi.t.yaml:3: slm-deploy:onnxEdge[0].target: ")


def test_operator_mode_without_crds_points_at_mode(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:namespace: x\n  slm-deploy:monitoring:\n    dcgm: {}\n"
                    "    mode: operator\n")
    assert line.startswith("stacks/Pulumi.t.yaml:5: slm-deploy:monitoring.mode = 'operator': monitoring.mode operator needs")


def test_ollama_on_the_wrong_target_points_at_its_target_key(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:ollama:\n    models: [qwen3-0.6b]\n    target: docker\n")
    assert line.startswith("stacks/Pulumi.t.yaml:4: slm-deploy:ollama.target = 'docker': ollama.target docker does not match")


def test_two_services_publishing_one_host_port(scratch_project):
    lines = stack_problems(scratch_project, "config:\n  slm-deploy:target: docker\n" + OLLAMA_DOCKER + "    webui:\n      hostPort: 8000\n"
                   "  slm-deploy:onnxEdge:\n    - name: box\n      model: phi-4-mini-instruct\n      hardwareTier: cpu-32gb\n"
                   "      port: 8000\n")
    assert lines == ["stacks/Pulumi.t.yaml:14: slm-deploy:onnxEdge[0].port = 8000: host port 8000 on 127.0.0.1 is already "
                     "published by ollama.webui.hostPort; every port published on one Docker host must differ"]


def test_a_name_inside_another_instances_prefix(scratch_project):
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:monitoring:\n    mode: standalone\n  slm-deploy:vllm:\n"
                    + vllm("monitoring-grafana"))
    assert line.startswith("stacks/Pulumi.t.yaml:5: slm-deploy:vllm[0].name = 'monitoring-grafana': 'monitoring-grafana' "
                           "collides with the monitoring stack")


@pytest.mark.parametrize("name, words", [("gateway", "is already the name of the model gateway"),
                                         ("gateway-keys", "collides with the model gateway")])
def test_a_name_the_gateway_owns(scratch_project, name, words):
    # two models turn the gateway on by default; its objects are gateway and gateway-*
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:vllm:\n" + vllm("a") + vllm(name, "qwen3-1.7b"))
    assert line.startswith(f"stacks/Pulumi.t.yaml:5: slm-deploy:vllm[1].name = '{name}': '{name}' {words}")


def test_the_gateway_name_is_free_without_a_gateway(scratch_project):
    write_stack(scratch_project, "t", "config:\n  slm-deploy:vllm:\n" + vllm("gateway"))
    assert load_stack("t", scratch_project).config.vllm[0].name == "gateway"


def test_independent_cross_field_problems_come_together(scratch_project):
    # (an RWX class: two replicas need a ReadWriteMany model cache, docs/lifecycle.md)
    lines = stack_problems(scratch_project, "config:\n  slm-deploy:cluster: {rwxStorageClass: nfs}\n  slm-deploy:monitoring:\n"
                   "    mode: operator\n  slm-deploy:vllm:\n"
                   + vllm("a") + vllm("a", "qwen3-1.7b") + "      scaleToZero: true\n      maxReplicas: 2\n"
                   "      activationQuery: up\n")
    assert [line.split(":")[1] for line in lines] == ["4", "8", "10"]  # in file order
    assert "operator needs cluster.prometheusOperator" in lines[0] and "already the name of vllm[0]" in lines[1]
    assert "scaleToZero needs cluster.keda" in lines[2]


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("partOf", "slm deploy", "label value"),
        ("namespace", "Team_A", "DNS-1123 label"),
        ("docker", "{host: docker-box}", "Docker host URL with a scheme"),
        ("cluster", "{storageClass: Fast_SSD}", "DNS-1123 subdomain"),
        ("cluster", "{gpuNodeLabel: 'nvidia.com/gpu product'}", "label key"),
    ],
)
def test_typed_stack_fields_refuse_what_kubernetes_or_docker_would(scratch_project, key, value, words):
    [line] = stack_problems(scratch_project, f"config:\n  slm-deploy:{key}: {value}\n")
    assert line.startswith("stacks/Pulumi.t.yaml:2: slm-deploy:") and words in line


def test_two_services_serving_one_model_name_behind_the_gateway(scratch_project):
    # two services turn the gateway on by default; a request's model must pick one of them
    [line] = stack_problems(scratch_project, "config:\n  slm-deploy:vllm:\n" + vllm("a") + vllm("b"))
    assert line.startswith("stacks/Pulumi.t.yaml:6: slm-deploy:vllm[1].model = 'qwen3-0.6b': model name 'qwen3-0.6b' is "
                           "already served by vllm[0]; behind the model gateway")


def test_an_adapter_named_like_another_services_model_behind_the_gateway(scratch_project):
    lines = stack_problems(scratch_project, "config:\n  slm-deploy:vllm:\n" + vllm("a") + "      servedModelName: chat\n"
                   + vllm("b", "qwen3-1.7b") + "      servedModelName: other\n      loraAdapters:\n"
                   "        - name: sql\n          hfRepo: org/adapter\n          revision: " + "a" * 40 + "\n"
                   "        - name: chat\n          hfRepo: org/other\n          revision: " + "b" * 40 + "\n")
    [line] = lines
    assert line.startswith("stacks/Pulumi.t.yaml:13: slm-deploy:vllm[1].loraAdapters[1].name = 'chat': model name 'chat' "
                           "is already served by vllm[0]")


def test_one_model_name_twice_is_fine_without_a_gateway(scratch_project):
    write_stack(scratch_project, "t", "config:\n  slm-deploy:gateway:\n    enabled: false\n  slm-deploy:vllm:\n"
                + vllm("a") + vllm("b"))
    assert [v.served_name for v in load_stack("t", scratch_project).config.vllm] == ["qwen3-0.6b", "qwen3-0.6b"]
