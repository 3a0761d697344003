"""Names of the components a stack has at most one of; their objects are named ``<name>`` and ``<name>-<part>``.

The program (stacks/program.py) names the instances with these, and the stack file's name rules
(stacks/consistency.py) keep every other name out of their prefixes.
"""

from __future__ import annotations

__all__ = ["OLLAMA_NAME", "MONITORING_NAME", "GATEWAY_NAME", "SINGLE_INSTANCES"]

OLLAMA_NAME = "ollama"
MONITORING_NAME = "monitoring"
GATEWAY_NAME = "gateway"

SINGLE_INSTANCES = {OLLAMA_NAME: "the Ollama stack", MONITORING_NAME: "the monitoring stack",
                    GATEWAY_NAME: "the model gateway"}
"""Each single instance's name and how errors call it."""
