"""Ollama constants shared by the Args, both targets and the monitoring."""

from __future__ import annotations

__all__ = ["TYPE", "OLLAMA_PORT"]

TYPE = "slm:serving:OllamaStack"
"""The component's type token."""

OLLAMA_PORT = 11434
"""Ollama's API port (its default ``OLLAMA_HOST`` port)."""
