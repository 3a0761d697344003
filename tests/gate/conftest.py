from __future__ import annotations

import pytest

from gate_helpers import REPO


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own verdict cache and (unless it sets one) an empty waiver file."""
    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(tmp_path_factory.mktemp("gate-cache")))
    empty = tmp_path_factory.mktemp("waivers") / "waivers.yaml"
    empty.write_text("waivers: []\n")
    monkeypatch.setenv("SLM_DEPLOY_WAIVERS", str(empty))


@pytest.fixture(scope="session")
def staging_build(tmp_path_factory):
    """The real staging stack, synthesized and rendered once (the gate's 'good' input)."""
    from stacks.loader import load_stack
    from slm_deploy.pipeline import synth_stack
    from slm_deploy.render import render

    out = tmp_path_factory.mktemp("staging") / "build"
    render(synth_stack(load_stack("staging", REPO)), out)
    return out
