"""Fixtures of the gateway tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .gaie_stack import build_gaie_stack


@pytest.fixture(scope="session")
def gaie_build(tmp_path_factory) -> Path:
    """prod with cluster.inferenceGateway, rendered and gated once per session (tests only read it)."""
    return build_gaie_stack(tmp_path_factory.mktemp("gaie-project"))
