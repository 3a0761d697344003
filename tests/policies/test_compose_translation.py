"""One Docker -> compose translation: the offline gate (compose.yaml) and CrossGuard judge the same service."""

from __future__ import annotations

import pytest

from policies.compose.service import CONTAINER_TYPE, SECRET_PLACEHOLDER, container_service
from policies.crossguard import slm_rules
from slm_deploy.render import compose_document
from stacks.loader import list_stacks

# What only the whole stack knows: CrossGuard validates one resource at a time.
CROSS_RESOURCE = ("build", "depends_on")


@pytest.mark.parametrize("stack", list_stacks())
def test_crossguard_sees_the_rendered_service(stack, synthesized):
    result = synthesized(stack)
    containers = [r for r in result.resources if r.type == CONTAINER_TYPE]
    if not containers:
        assert compose_document(result) is None
        return
    rendered = compose_document(result)["services"]
    assert sorted(rendered) == sorted(r.inputs.get("name") or r.name for r in containers)
    for rec in containers:
        name = rec.inputs.get("name") or rec.name
        expected = {k: v for k, v in rendered[name].items() if k not in CROSS_RESOURCE}
        assert slm_rules.container_service(rec.inputs, name) == expected, name


def test_the_reference_stacks_exercise_the_translation(synthesized):
    """The parity test above covers tmpfs, swap, volumes, uploads (configs and secrets) and healthchecks."""
    services = [s for stack in list_stacks() for s in (compose_document(synthesized(stack)) or {}).get("services", {}).values()]
    for key in ("tmpfs", "memswap_limit", "volumes", "configs", "secrets", "healthcheck", "security_opt", "cap_drop"):
        assert any(key in s for s in services), key


def test_uploads_become_secrets_or_configs():
    inputs = {"image": "x", "uploads": [{"file": "/run/k/api-key", "content": SECRET_PLACEHOLDER},
                                        {"file": "/etc/app.conf", "content": "a = 1\n"}]}
    out = container_service(inputs, name="app")
    assert out.secrets == ["app-api-key"]
    assert out.configs == {"app-app-conf": {"content": "a = 1\n"}}
    assert out.service["secrets"] == [{"source": "app-api-key", "target": "/run/k/api-key", "mode": 0o440}]
    assert out.service["configs"] == [{"source": "app-app-conf", "target": "/etc/app.conf", "mode": 0o444}]
    # Under the real engine a secret reaches the policy as a non-string (secret/unknown): still a secret.
    assert "secrets" in slm_rules.container_service({"image": "x", "uploads": [{"file": "/k", "content": object()}]}, "app")
