"""Two resources creating one object (same kind, namespace and name; same Docker name; same generated file)
are refused before anything is written: rendered side by side, the second would silently replace the first,
and at `pulumi up` the API server (or Docker) would keep one and refuse the other."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from slm_deploy.render import ObjectCollision, collisions, render
from slm_deploy.synth import SynthResult


def _with_twin(result: SynthResult, type_: str) -> tuple[SynthResult, str]:
    """``result`` plus a second resource (another Pulumi name) creating the same object as the first ``type_``."""
    original = next(r for r in result.resources if r.type == type_)
    twin = replace(original, name=original.name + "-twin", inputs=copy.deepcopy(original.inputs))
    return SynthResult(result.project, result.stack, [*result.resources, twin]), original.key


def test_reference_stacks_create_every_object_once(synthesized):
    for stack in ("dev", "edge", "staging", "prod"):
        assert collisions(synthesized(stack)) == [], stack


@pytest.mark.parametrize("stack, type_, identity", [
    ("staging", "kubernetes:apps/v1:Deployment", "Deployment "),
    ("staging", "kubernetes:core/v1:Secret", "Secret "),
    ("dev", "docker:index/container:Container", "Docker container "),
    ("dev", "docker:index/network:Network", "Docker network "),
])
def test_an_object_created_twice_is_refused_before_anything_is_written(synthesized, tmp_path, stack, type_, identity):
    result, first = _with_twin(synthesized(stack), type_)
    out = tmp_path / "build"
    with pytest.raises(ObjectCollision) as info:
        render(result, out)
    message = str(info.value)
    assert message.startswith(identity) and f"is created twice: by {first} and by {first}-twin" in message
    assert not out.exists()


def test_a_generated_file_written_twice_with_different_content(synthesized, tmp_path):
    result = synthesized("staging")
    configmap = next(r for r in result.resources if r.type == "kubernetes:core/v1:ConfigMap"
                     and any(k.endswith((".yaml", ".json", ".conf")) for k in (r.inputs.get("data") or {})))
    key = next(k for k in configmap.inputs["data"] if k.endswith((".yaml", ".json", ".conf")))
    # another namespace: a distinct object, but the same files/<name>/<key> path
    inputs = copy.deepcopy(configmap.inputs)
    inputs["metadata"]["namespace"] = "elsewhere"
    inputs["data"][key] += "\n# changed\n"
    twin = replace(configmap, name=configmap.name + "-twin", inputs=inputs)
    out = tmp_path / "build"
    with pytest.raises(ObjectCollision, match=rf"files/.*/{key} is written twice with different content"):
        render(SynthResult(result.project, result.stack, [*result.resources, twin]), out)
    assert not out.exists()
