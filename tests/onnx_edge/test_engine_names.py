"""Every onnxruntime-genai name the edge server passes as a string exists in the pinned 0.18.0 wheel.

The 0.18.0 source tag is not available to read, so the wheel is the evidence (docs/onnx-edge.md): the
search options the server sets and the execution-provider names it appends are tried on the real engine
with the tiny model, next to an unknown name that must be refused (so the check can fail).
"""

from __future__ import annotations

import re
from pathlib import Path

import onnxruntime_genai as og
import pytest

from components.onnx_edge.server import server as srv

ROOT = Path(__file__).parents[2]


def test_the_installed_engine_is_the_pinned_one():
    lock = (ROOT / "uv.lock").read_text()
    locked = re.search(r'name = "onnxruntime-genai"\nversion = "([^"]+)"', lock).group(1)
    image = re.search(r"^onnxruntime-genai==(\S+)$", (ROOT / "components/onnx_edge/server/requirements.in").read_text(),
                      flags=re.MULTILINE).group(1)
    assert og.__version__ == locked == image == "0.18.0"


class _RecordingParams(og.GeneratorParams):
    seen: list[str] = []

    def set_search_options(self, **options):
        _RecordingParams.seen += list(options)
        super().set_search_options(**options)


class _OgWithRecordingParams:
    def __getattr__(self, name):
        return _RecordingParams if name == "GeneratorParams" else getattr(og, name)


def test_every_search_option_the_server_passes_is_one_the_engine_knows(tiny_model_dir):
    engine = srv.OnnxGenaiEngine(str(tiny_model_dir), og_module=_OgWithRecordingParams())
    engine.load()
    prompt = engine.encode_chat([{"role": "user", "content": "hello"}])
    _RecordingParams.seen = []
    for sampling in (srv.Sampling(), srv.Sampling(temperature=0.7, top_p=0.9, top_k=5, seed=7)):
        assert list(engine.generate(prompt, len(prompt) + 2, sampling))  # the real engine accepted every option
    assert set(_RecordingParams.seen) == {"max_length", "do_sample", "temperature", "top_p", "top_k", "random_seed"}
    with pytest.raises(RuntimeError, match="Unknown value"):
        og.GeneratorParams(engine.model).set_search_options(no_such_option=1)


@pytest.mark.parametrize("ours", [k for k, v in srv.PROVIDERS.items() if v is not None])
def test_every_execution_provider_name_is_one_the_engine_knows(tiny_model_dir, ours):
    def load_with(provider: str) -> str:
        config = og.Config(str(tiny_model_dir))
        config.clear_providers()
        config.append_provider(provider)
        with pytest.raises(Exception) as caught:  # this CPU build has none of them
            og.Model(config)
        return str(caught.value)

    assert "Unknown provider name" not in load_with(srv.PROVIDERS[ours])
    assert "Unknown provider name" in load_with("NoSuchProvider")
