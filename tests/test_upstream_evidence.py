"""The component docs carry upstream evidence (file and line at the pinned version) for what we generate;
these tests keep the checklists complete when the generated set changes."""

from __future__ import annotations

import re
from pathlib import Path

from components.ollama.webui import WebUiSettings, webui_environment
from components.onnx_edge.server import server as edge_server

DOCS = Path(__file__).parents[1] / "docs"


def _table_names(doc: str, heading: str) -> set[str]:
    section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    return {name for row in re.findall(r"^\| (.+?) \|", section, flags=re.MULTILINE) for name in re.findall(r"`([^`]+)`", row)}


def test_every_open_webui_variable_has_evidence():
    documented = _table_names((DOCS / "ollama.md").read_text(), "## Upstream evidence for the Open WebUI environment")
    generated = set(webui_environment(WebUiSettings(), "http://ollama:11434")) | {"WEBUI_SECRET_KEY"}
    assert generated <= documented, generated - documented


def test_every_edge_server_metric_and_route_is_documented():
    doc = (DOCS / "onnx-edge.md").read_text()
    for name in edge_server.METRIC_NAMES:
        assert f"`{name}" in doc, name
    for route in ("/v1/chat/completions", "/v1/models", "/metrics", "/health", "/ready"):
        assert f"`{route}`" in doc or f"`GET {route}`" in doc or f"`POST {route}`" in doc, route
