"""Fixtures for the ONNX edge server tests: a tiny onnxruntime-genai model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random model in onnxruntime-genai's format (about 0.3 s; see tiny_model.py)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")

