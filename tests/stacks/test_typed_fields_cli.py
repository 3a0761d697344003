"""Typed stack fields through the real CLI (in-process): a value Kubernetes, Docker, the hub or the engine would
refuse is exit 2 with one located line (file:line, key, value, what is allowed), no traceback, nothing written.

Issue #11, class 2: each case is a reference-shaped stack with one realistic mistake. The line is the line of the
offending key or list entry in the file (found below by the bad value, which appears once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO, write_stack

NS = "config:\n  slm-deploy:namespace: t\n"
VLLM = NS + "  slm-deploy:vllm:\n    - name: phi\n      model: phi-4-mini-instruct\n"
SOURCE = VLLM + "      source:\n"
S3 = SOURCE + "        s3:\n          endpoint: https://minio.storage.svc:9000\n"
DOCKER = "config:\n  slm-deploy:target: docker\n"
OLLAMA_DOCKER = DOCKER + "  slm-deploy:ollama:\n    models: [qwen3-0.6b]\n"
EDGE = DOCKER + "  slm-deploy:onnxEdge:\n    - name: box\n      model: phi-4-mini-instruct\n"
MONITORING = NS + "  slm-deploy:monitoring:\n    mode: standalone\n"
GATEWAY = NS + "  slm-deploy:vllm:\n    - name: a\n      model: qwen3-0.6b\n  slm-deploy:gateway:\n    enabled: true\n"
SHA = "5a149550068a1eb93398160d8953f5f56c3603e9"

# case: (stack text, the bad value as written, the key path, what the line must say is allowed)
CASES = {
    # the issue's own examples
    "storage size with a space": (
        NS + "  slm-deploy:ollama:\n    models: [qwen3-0.6b]\n    storageSize: 30 GB\n", "30 GB",
        "slm-deploy:ollama.storageSize = '30 GB'", "must be a storage quantity: bytes with an optional suffix Ki, Mi, Gi"),
    "cpu limit in words": (
        MONITORING + "    prometheus:\n      cpuLimit: 2 cores\n", "2 cores",
        "slm-deploy:monitoring.prometheus.cpuLimit = '2 cores'", "must be a CPU quantity: cores (2, 0.5) or millicores (500m)"),
    "image not pinned in versions.yaml": (
        VLLM + "      image: vllm/vllm-openai:latest\n", "vllm/vllm-openai:latest",
        "slm-deploy:vllm[0].image = 'vllm/vllm-openai:latest'",
        "is not an image pinned in components/versions.yaml; known: "),
    # 40-hex commit sha
    "revision is a branch": (
        VLLM + "      hfRepo: me/phi-4-mini-ft\n      revision: main\n", "main",
        "slm-deploy:vllm[0].revision = 'main'", "must be a 40-hex commit sha (lowercase 0-9 and a-f); branches and tags float"),
    "adapter revision is a short sha": (
        VLLM + "      loraAdapters:\n        - name: sql\n          hfRepo: org/sql-lora\n          revision: 5a14955\n",
        "5a14955", "slm-deploy:vllm[0].loraAdapters[0].revision = '5a14955'", "must be a 40-hex commit sha"),
    # instance names, Hugging Face repo ids, model names
    "adapter name too long": (
        VLLM + "      loraAdapters:\n        - name: " + "s" * 43 + f"\n          hfRepo: org/a\n          revision: {SHA}\n",
        "s" * 43, "slm-deploy:vllm[0].loraAdapters[0].name = '" + "s" * 43 + "'",
        "at most 42 characters (object names get suffixes)"),
    "hf repo with three parts": (
        VLLM + f"      hfRepo: datasets/org/phi\n      revision: {SHA}\n", "datasets/org/phi",
        "slm-deploy:vllm[0].hfRepo = 'datasets/org/phi'", "must be a Hugging Face repo id: owner/name"),
    "served model name with a quote": (
        VLLM + "      servedModelName: 'chat\"; return 200'\n", 'chat"; return 200',
        "slm-deploy:vllm[0].servedModelName = 'chat\"; return 200'", "(no spaces or quotes)"),
    "prometheus url without a scheme": (
        VLLM + "      prometheusUrl: prometheus:9090\n", "prometheus:9090",
        "slm-deploy:vllm[0].prometheusUrl = 'prometheus:9090'", "must be an http:// or https:// URL with a host"),
    # model sources
    "mirror on the metadata address": (
        SOURCE + "        mirror: https://169.254.169.254\n", "https://169.254.169.254",
        "slm-deploy:vllm[0].source.mirror = 'https://169.254.169.254'", "must not be a link-local address"),
    "bucket with an underscore": (
        S3 + "          bucket: model_store\n          prefix: phi\n          credentialsSecret: s3\n", "model_store",
        "slm-deploy:vllm[0].source.s3.bucket = 'model_store'", "must be an S3 bucket name: 3-63 lowercase letters"),
    "credentials secret with capitals": (
        S3 + "          bucket: models\n          prefix: phi\n          credentialsSecret: S3Creds\n", "S3Creds",
        "slm-deploy:vllm[0].source.s3.credentialsSecret = 'S3Creds'", "must be a DNS-1123 subdomain"),
    "ca bundle secret with an underscore": (
        SOURCE + "        mirror: https://hf-mirror.internal\n        caBundleSecret: ca_bundle\n", "ca_bundle",
        "slm-deploy:vllm[0].source.caBundleSecret = 'ca_bundle'", "must be a DNS-1123 subdomain"),
    "prefilled claim with a space": (
        SOURCE + "        prefilledClaim: model cache\n", "model cache",
        "slm-deploy:vllm[0].source.prefilledClaim = 'model cache'", "must be a DNS-1123 subdomain"),
    "egress cidr entry with host bits": (
        SOURCE + "        mirror: https://hf-mirror.internal\n        egressCidrs:\n          - 10.20.0.0/16\n"
        "          - 10.20.1.5/16\n", "10.20.1.5/16",
        "slm-deploy:vllm[0].source.egressCidrs[1] = '10.20.1.5/16'", "must be a CIDR with no host bits set"),
    "egress cidr of every address": (
        SOURCE + "        mirror: https://hf-mirror.internal\n        egressCidrs:\n          - 0.0.0.0/0\n", "0.0.0.0/0",
        "slm-deploy:vllm[0].source.egressCidrs[0] = '0.0.0.0/0'", "must not be every address"),
    # Docker targets
    "ollama publish address is a host name": (
        OLLAMA_DOCKER + "    dockerUser: '10001:10001'\n    publishAddress: localhost\n", "localhost",
        "slm-deploy:ollama.publishAddress = 'localhost'", "must be an IPv4 or IPv6 address, e.g. 127.0.0.1"),
    "docker user below 10000": (
        OLLAMA_DOCKER + "    dockerUser: '1000:1000'\n", "1000:1000",
        "slm-deploy:ollama.dockerUser = '1000:1000'", "must be a numeric uid[:gid] with uid >= 10000"),
    "edge publish address out of range": (
        EDGE + "      publishAddress: 127.0.0.256\n", "127.0.0.256",
        "slm-deploy:onnxEdge[0].publishAddress = '127.0.0.256'", "must be an IPv4 or IPv6 address"),
    "edge hardware tier unknown": (
        EDGE + "      hardwareTier: cpu-12gb\n", "cpu-12gb",
        "slm-deploy:onnxEdge[0].hardwareTier = 'cpu-12gb'", "unknown cpu tier 'cpu-12gb'. Did you mean"),
    # gateway
    "gateway client name with an underscore": (
        GATEWAY + "    clients:\n      - name: chat_app\n        models: [qwen3-0.6b]\n        rpm: 60\n        concurrency: 4\n",
        "chat_app", "slm-deploy:gateway.clients[0].name = 'chat_app'", "must be a DNS-1123 label"),
    "ingress tls secret with capitals": (
        GATEWAY + "    ingress:\n      host: llm.example.com\n      tlsSecretName: LLM-TLS\n", "LLM-TLS",
        "slm-deploy:gateway.ingress.tlsSecretName = 'LLM-TLS'", "must be a DNS-1123 subdomain"),
    "ingress host is an address": (
        GATEWAY + "    ingress:\n      host: 10.0.0.8\n      tlsSecretName: llm-tls\n", "10.0.0.8",
        "slm-deploy:gateway.ingress.host = '10.0.0.8'", "must be a host name: a DNS-1123 subdomain"),
    # monitoring
    "retention size in kubernetes units": (
        MONITORING + "    prometheus:\n      retentionSize: 8Gi\n", "8Gi",
        "slm-deploy:monitoring.prometheus.retentionSize = '8Gi'", "must be a Prometheus size: a whole number > 0 with B, KB"),
    "receiver name too long": (
        MONITORING + "    alertmanager:\n      receivers:\n        - name: " + "r" * 51 + "\n          type: webhook\n"
        "          secretName: hooks\n", "r" * 51,
        "slm-deploy:monitoring.alertmanager.receivers[0].name = '" + "r" * 51 + "'", "at most 50 characters"),
    "route matcher without quotes": (
        MONITORING + "    alertmanager:\n      routes:\n        - matchers:\n            - severity=\"critical\"\n"
        "            - team=ml\n          receiver: default\n", "team=ml",
        "slm-deploy:monitoring.alertmanager.routes[0].matchers[1] = 'team=ml'", "must be an Alertmanager matcher"),
    "group by a dashed label": (
        MONITORING + "    alertmanager:\n      groupBy: [alertname, model-name]\n", "model-name",
        "slm-deploy:monitoring.alertmanager.groupBy[1] = 'model-name'", "must be a Prometheus label name"),
    "blackbox address with a scheme": (
        NS + "  slm-deploy:cluster:\n    prometheusOperator: true\n  slm-deploy:monitoring:\n    mode: operator\n"
        "    operator:\n      blackboxExporterAddress: http://bb:9115\n", "http://bb:9115",
        "slm-deploy:monitoring.operator.blackboxExporterAddress = 'http://bb:9115'", "must be host:port"),
}


def _line_of(text: str, value: str) -> int:
    [line] = [n for n, row in enumerate(text.splitlines(), 1) if value in row]
    return line


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_typed_value_is_one_located_line_exit_2_nothing_written(case, scratch_project: Path, tmp_path, monkeypatch):
    from slm_deploy.cli import app
    from slm_deploy.session import Session

    text, value, key, allowed = CASES[case]
    write_stack(scratch_project, "t", text)
    monkeypatch.setattr(Session, "project_dir", None)
    monkeypatch.setenv("SLM_DEPLOY_BUILD_ROOT", str(tmp_path / "build-root"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["-C", str(scratch_project), "preview", "t", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if "stacks/Pulumi.t.yaml" in line]
    assert len(lines) == 1, result.output
    expected = f"stacks/Pulumi.t.yaml:{_line_of(text, value)}: {key}: "
    assert expected in lines[0], (expected, lines[0])
    assert allowed in lines[0], lines[0]
    assert not out.exists() and not (tmp_path / "build-root").exists()
    assert not (REPO / "build" / "t").exists()
