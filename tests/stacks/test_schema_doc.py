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
