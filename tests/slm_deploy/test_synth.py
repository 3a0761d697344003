"""The offline synth: records, normalization, and isolation between runs."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from slm_deploy.synth import SECRET_PLACEHOLDER, normalize, synthesize

SECRET_SIG = "4dabf18193072939515e22adb298388d"


class _Box(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slm:test:Box", name, {"securityOptOuts": []}, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = pulumi.Config("slm-deploy").require_secret("apiKey")
        secret = k8s.core.v1.Secret(f"{name}-key", metadata={"name": f"{name}-key", "namespace": "ns"}, string_data={"api-key": key}, opts=child)
        k8s.apps.v1.Deployment(
            f"{name}-app",
            spec={
                "replicas": 2,
                "selector": {"match_labels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "img@sha256:" + "0" * 64, "resources": {"limits": {"cpu": "1.5"}}}]},
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )
        self.register_outputs({})


def _program(name: str):
    return lambda: _Box(name)


def _run(name: str, stack: str = "t"):
    return synthesize(
        _program(name), project="slm-deploy", stack=stack,
        config={"slm-deploy:apiKey": "[secret:apiKey]"}, secret_keys=["slm-deploy:apiKey"],
    )


def test_records_type_name_parent_and_inputs():
    result = _run("box")
    by_name = {r.name: r for r in result.resources}
    assert by_name["box"].type == "slm:test:Box" and by_name["box"].custom is False
    assert by_name["box-app"].parent == "slm:test:Box::box"
    assert by_name["box-app"].inputs["kind"] == "Deployment"
    assert by_name["box-app"].depends_on == ["kubernetes:core/v1:Secret::box-key"]


def test_integral_floats_become_ints_and_others_stay():
    deployment = next(r for r in _run("box").resources if r.name == "box-app")
    assert deployment.inputs["spec"]["replicas"] == 2
    assert isinstance(deployment.inputs["spec"]["replicas"], int)
    assert normalize({"a": 2.0, "b": 1.5, "c": [3.0]}) == {"a": 2, "b": 1.5, "c": [3]}


def test_secret_values_are_placeholders():
    result = _run("box")
    secret = next(r for r in result.resources if r.name == "box-key")
    assert secret.inputs["stringData"] == {"api-key": SECRET_PLACEHOLDER}
    assert "[secret:apiKey]" not in repr([r.inputs for r in result.resources])


def test_secret_wrapper_keeps_structure_and_redacts_secret_material():
    wrapped = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": [{"file": "/etc/key", "content": "Bearer [secret:apiKey]"}]}
    assert normalize({"uploads": wrapped}) == {"uploads": [{"file": "/etc/key", "content": SECRET_PLACEHOLDER}]}
    assert normalize({"x": "[generated:webui-key]"}) == {"x": SECRET_PLACEHOLDER}


def test_inside_a_secret_wrapper_only_references_survive():
    """By type, not by marker: a real value (as the real engine decrypts it) inside a secret wrapper is redacted,
    siblings included; only reference fields (paths, names, keys) and non-strings stay."""
    wrapped = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": [
        {"file": "/etc/auth-proxy/keys.map", "content": "Bearer sk-real-key", "permissions": "0444"},
        {"file": "/etc/app.conf", "content": "public text, but in a secret input", "executable": False},
        {"name": "API_KEY_FILE", "value": "sk-real-key", "nested": {"deep": ["sk-real-key"]}},
    ]}
    assert normalize({"uploads": wrapped}) == {"uploads": [
        {"file": "/etc/auth-proxy/keys.map", "content": SECRET_PLACEHOLDER, "permissions": "0444"},
        {"file": "/etc/app.conf", "content": SECRET_PLACEHOLDER, "executable": False},
        {"name": "API_KEY_FILE", "value": SECRET_PLACEHOLDER, "nested": {"deep": [SECRET_PLACEHOLDER]}},
    ]}
    assert normalize({SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "sk-real-key"}) == SECRET_PLACEHOLDER


def test_real_secret_config_never_reaches_the_inputs():
    """A secret config value without any marker (what `pulumi config set --secret` yields under the real engine),
    through apply into a Docker upload beside a public file: nothing of it is recorded."""
    import pulumi_docker as docker

    def program():
        key = pulumi.Config("slm-deploy").require_secret("apiKey")
        docker.Container("c", image="x", uploads=[
            docker.ContainerUploadArgs(file="/etc/conf", content="public"),
            docker.ContainerUploadArgs(file="/etc/keys", content=key.apply(lambda v: f"Bearer {v}")),
        ])

    result = synthesize(program, project="slm-deploy", stack="t", config={"slm-deploy:apiKey": "sk-canary-123"},
                        secret_keys=["slm-deploy:apiKey"])
    assert "sk-canary-123" not in repr([r.inputs for r in result.resources])
    (container,) = [r for r in result.resources if r.type == "docker:index/container:Container"]
    assert [u["file"] for u in container.inputs["uploads"]] == ["/etc/conf", "/etc/keys"]


def test_kubernetes_secret_data_is_always_redacted():
    def program():
        k8s.core.v1.Secret("s", metadata={"name": "s", "namespace": "n"}, string_data={"literal": "not-from-config"})

    [secret] = synthesize(program, project="slm-deploy", stack="t").resources
    assert secret.inputs["stringData"] == {"literal": SECRET_PLACEHOLDER}


def test_default_name_and_namespace_are_filled():
    deployment = next(r for r in _run("box").resources if r.name == "box-app")
    assert deployment.inputs["metadata"] == {"name": "box-app", "namespace": "default"}


def test_two_stacks_in_one_process_do_not_leak():
    first = _run("alpha", stack="one")
    second = _run("beta", stack="two")
    assert {r.name for r in first.resources} == {"alpha", "alpha-key", "alpha-app"}
    assert {r.name for r in second.resources} == {"beta", "beta-key", "beta-app"}
    again = _run("alpha", stack="one")
    assert [r.inputs for r in again.resources] == [r.inputs for r in first.resources]


def test_program_exception_is_a_synth_error():
    import pytest

    from slm_deploy.synth import SynthError

    def boom():
        raise ValueError("bad thing")

    with pytest.raises(SynthError, match="bad thing"):
        synthesize(boom, project="slm-deploy", stack="t")
    # and the runtime is usable again afterwards
    assert {r.name for r in _run("after").resources} == {"after", "after-key", "after-app"}
