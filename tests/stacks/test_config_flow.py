"""Config flows one way and is validated once: stack file -> StackConfig -> StackContext + Args -> components."""

from __future__ import annotations

import pytest

from slm_deploy.pipeline import synth_stack
from slm_deploy.synth import synthesize
from stacks.loader import list_stacks, load_stack, runtime_config
from stacks.program import read_config, stack_context
from stacks.schema import PROJECT, StackConfig


def test_an_offline_build_validates_the_stack_config_once(monkeypatch):
    original = StackConfig.model_validate.__func__
    calls: list[object] = []

    def counting(cls, *args, **kwargs):
        calls.append(args[0] if args else kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(StackConfig, "model_validate", classmethod(counting))
    synth_stack(load_stack("prod"))
    assert len(calls) == 1


@pytest.mark.parametrize("stack", list_stacks())
def test_the_real_engine_reads_the_config_the_loader_validated(stack):
    """Under the real engine the program reads Pulumi config (strings) itself: same StackConfig."""
    loaded = load_stack(stack)
    config, secret_keys = runtime_config(loaded)
    seen: list[StackConfig] = []
    synthesize(lambda: seen.append(read_config()), project=PROJECT, stack=stack, config=config, secret_keys=secret_keys)
    assert seen == [loaded.config]


def test_every_component_gets_the_same_context():
    cfg = load_stack("prod").config
    ctx = stack_context(cfg)
    assert (ctx.namespace, ctx.part_of, ctx.cluster) == (cfg.namespace, cfg.part_of, cfg.cluster)
    assert ctx.prometheus is not None and ctx.prometheus.url.startswith("http://prometheus-operated.")
    assert ctx.probers, "a monitored stack names the pods that probe its servers"
    assert stack_context(load_stack("dev").config).prometheus is None
