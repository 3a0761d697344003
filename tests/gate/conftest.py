from __future__ import annotations

import pytest



@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own verdict cache and (unless it sets one) an empty waiver file."""
    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(tmp_path_factory.mktemp("gate-cache")))
    empty = tmp_path_factory.mktemp("waivers") / "waivers.yaml"
    empty.write_text("waivers: []\n")
    monkeypatch.setenv("SLM_DEPLOY_WAIVERS", str(empty))


@pytest.fixture(scope="session")
def staging_build(tmp_path_factory, synthesized):
    """The real staging stack, rendered once from the session's synth (the gate's 'good' input)."""
    from slm_deploy.render import render

    out = tmp_path_factory.mktemp("staging") / "build"
    render(synthesized("staging"), out)
    return out
