"""The per-client metrics exporter container (``files/metrics_exporter.py``, Python standard library only).

It runs beside the gateway's nginx and beside every single named-client proxy (Ollama's auth proxy, the ONNX edge
proxy on Kubernetes): nginx sends its JSON access log over syslog on loopback, the exporter turns it into the
``slm_gateway_*`` series (:mod:`components.gateway.monitoring`).
"""

from __future__ import annotations

from pulumi_kubernetes.core.v1 import ContainerArgs, ContainerPortArgs, VolumeMountArgs

from components.gateway.constants import SYSLOG_ADDRESS
from components.hardening import container_security_context, http_probe, resources
from components.versions import image

__all__ = ["exporter_container"]


def exporter_container(name: str, script: VolumeMountArgs, port: int, port_name: str) -> ContainerArgs:
    """The exporter as container ``name`` in the pinned python-slim image: it reads the access log from
    :data:`SYSLOG_ADDRESS` and serves ``/metrics`` and ``/healthz`` on ``port`` (named ``port_name``); ``script`` is
    the read-only mount that puts metrics_exporter.py at its ``mount_path``."""
    return ContainerArgs(
        name=name,
        image=image("python-slim").ref,
        image_pull_policy="IfNotPresent",
        command=["python3"],
        args=[script.mount_path, "--syslog", SYSLOG_ADDRESS, "--listen", f"0.0.0.0:{port}"],
        ports=[ContainerPortArgs(name=port_name, container_port=port, protocol="TCP")],
        volume_mounts=[script],
        resources=resources("50m", "64Mi", cpu_limit="500m", memory_limit="128Mi"),
        security_context=container_security_context(),
        liveness_probe=http_probe("/healthz", port_name, period_seconds=10),
        readiness_probe=http_probe("/healthz", port_name, period_seconds=10),
    )
