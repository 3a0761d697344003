"""The stack-file reference is generated from the models, stays in sync, and every field is documented."""

from __future__ import annotations

import json

from slm_deploy.schema_doc import all_models, json_schema, markdown_reference
from tests.conftest import REPO
from tests.run_cli import run_cli


def test_stacks_readme_is_in_sync():
    expected = markdown_reference()
    actual = (REPO / "stacks" / "README.md").read_text()
    assert actual == expected, "run: slm-deploy schema > stacks/README.md"


def test_every_config_field_documents_itself():
    undocumented = [
        f"{model.__name__}.{name}"
        for model in all_models()
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert undocumented == []


def test_every_defaulted_field_states_its_default():
    """README "Adding a component": the description states the default (and why); required fields have none."""
    missing = []
    for model in all_models():
        for name, field in model.model_fields.items():
            text = (field.description or "").lower()
            if not field.is_required() and "default" not in text:
                missing.append(f"{model.__name__}.{name}")
    assert missing == []


def test_json_schema_is_valid_json_schema():
    import jsonschema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False


def test_schema_command():
    out = run_cli("schema", "--json", cwd=REPO)  # in this process (tests/run_cli.py)
    assert out.returncode == 0 and "vllm" in json.loads(out.stdout)["properties"]


def test_fields_show_their_real_type():
    """Fields with a Kubernetes/Docker meaning show the shared type's name, not `str`."""
    text = (REPO / "stacks" / "README.md").read_text()
    for row in ("| `namespace` | `DNS-1123 label` |", "| `partOf` | `label value` |", "| `host` | `Docker host URL` |",
                "| `storageSize` | `storage quantity` |", "| `cpuRequest` | `CPU quantity \\| None` |",
                "| `podLabels` | `dict[label key, label value]` |", "| `portName` | `port name` |",
                "| `scrapeInterval` | `duration` |", "| `image` | `image key (versions.yaml)` |"):
        assert row in text, row


def test_validated_fields_show_their_type_not_str():
    """Issue #11: every field the loader validates shows its named type (the rows that were plain `str`)."""
    text = (REPO / "stacks" / "README.md").read_text()
    for row in ("| `name` | `DNS-1123 label (at most 42)` |", "| `revision` | `40-hex commit sha \\| None` |",
                "| `revision` | `40-hex commit sha` |", "| `canaryRevision` | `40-hex commit sha \\| None` |",
                "| `hfRepo` | `Hugging Face repo id` |", "| `model` | `catalog model id (models.yaml)` |",
                "| `servedModelName` | `model name \\| None` |", "| `prometheusUrl` | `http(s) URL \\| None` |",
                "| `extraArgs` | `list[vllm serve flag (v0.11.0)]` |", "| `mirror` | `https URL \\| None` |",
                "| `caBundleSecret` | `DNS-1123 subdomain \\| None` |", "| `egressCidrs` | `list[CIDR]` |",
                "| `prefilledClaim` | `DNS-1123 subdomain \\| None` |", "| `endpoint` | `https URL` |",
                "| `bucket` | `S3 bucket name` |", "| `prefix` | `S3 key prefix` |",
                "| `credentialsSecret` | `DNS-1123 subdomain` |", "| `publishAddress` | `IP address` |",
                "| `dockerUser` | `uid[:gid] (uid >= 10000) \\| None` |", "| `hardwareTier` | `CPU tier (hardware.yaml)` |",
                "| `name` | `DNS-1123 label` |", "| `tlsSecretName` | `DNS-1123 subdomain` |",
                "| `host` | `host name (DNS-1123 subdomain, *. allowed)` |", "| `retentionSize` | `Prometheus size` |",
                "| `name` | `DNS-1123 label (at most 50)` |", "| `secretKey` | `Secret data key` |",
                "| `matchers` | `list[Alertmanager matcher]` |", "| `groupBy` | `list[Prometheus label name]` |",
                "| `blackboxExporterAddress` | `host:port \\| None` |", "| `models` | `list[catalog id or pinned Ollama tag]` |",
                "| `name` | `Ollama model name` |", "| `env` | `dict[Ollama variable name (OLLAMA_*), str]` |"):
        assert row in text, row


# Fields that stay `str`: free text, or a reference another rule checks against the stack (each says which).
PLAIN_STR = {
    "ClusterCapabilities.kube_context": "a kubeconfig context name: kubeconfig allows any text",
    "VllmServiceArgs.activation_query": "PromQL, free text for KEDA",
    "S3Source.manifest": "an object name under the prefix",
    "S3Source.region": "a signing region; S3-compatible stores name them freely",
    "ModelfileVariant.base": "reference: one of ollama.models (checked by OllamaStackArgs)",
    "ModelfileVariant.parameters": "keys and values checked together by check_parameter (real Ollama parameters)",
    "ModelfileVariant.system": "free text (prompt)",
    "ModelfileVariant.template": "a Go template Ollama runs",
    "ModelfileVariant.license": "free text",
    "ModelfileMessage.content": "free text (prompt)",
    "OllamaServerSettings.env": "values of real Ollama variables (the keys are typed)",
    "WebUiSettings.name": "free text shown in the browser",
    "GatewayClient.models": "reference: served model names of the stack (checked by the stack rules)",
    "SecurityOptOut.reason": "free text (a reason in words)",
    "SecurityOptOut.approver": "free text (who approved)",
    "OnnxEdgeNodeArgs.variant": "reference: an ONNX export of the model (checked against the catalog)",
    "BenchmarkArgs.services": "reference: vllm[].name (checked by the stack rules)",
    "AlertmanagerArgs.slack_channel": "free text (a Slack channel)",
    "ReceiverArgs.slack_channel": "free text (a Slack channel)",
    "RouteArgs.receiver": "reference: a receiver name (checked by AlertmanagerArgs)",
    "GrafanaArgs.admin_user": "free text (a Grafana login)",
}


def test_only_free_text_and_references_stay_plain_str():
    """A new field with a rule gets a named type (components/validation.py), or is listed here with why not."""
    import re

    from slm_deploy.schema_doc import _type_name

    plain = {f"{model.__name__}.{name}" for model in all_models() for name, field in model.model_fields.items()
             if re.search(r"(^|[\[ ,|])str($|[\] ,|])", _type_name(field.annotation, field.metadata))}
    assert plain == set(PLAIN_STR)


def test_the_reference_lists_what_each_value_type_allows():
    text = (REPO / "stacks" / "README.md").read_text()
    table = text[text.index("## Value types"):]
    for row in ("| `40-hex commit sha` | 40 lowercase hex digits", "| `storage quantity` | like a memory quantity",
                "| `CPU quantity` | cores (2, 0.5) or millicores (500m)", "| `image key (versions.yaml)` | a key of"):
        assert row in table, row
