"""The blackbox exporter: probes servers without a /metrics endpoint (Ollama, the ONNX edge server)."""

from __future__ import annotations

from urllib.parse import urlparse

from pulumi_kubernetes.core.v1 import ConfigMapVolumeSourceArgs, VolumeArgs, VolumeMountArgs
from pulumi_kubernetes.networking.v1 import IPBlockArgs, NetworkPolicyEgressRuleArgs, NetworkPolicyPeerArgs, NetworkPolicyPortArgs

from components.hardening import NON_PUBLIC_CIDRS, PRIVATE_CIDRS, ingress_from_pods, resources
from components.monitoring.builder import Builder, config_checksum, server_container
from components.monitoring.constants import BLACKBOX_PORT
from components.monitoring.prometheus_config import to_yaml
from components.observability import MonitoringContribution
from components.versions import image

__all__ = ["blackbox_config", "deploy_blackbox"]


PROBE_CIDRS = (*PRIVATE_CIDRS, NON_PUBLIC_CIDRS[4])
"""Where the blackbox exporter may connect: RFC 1918 and CGNAT (in-cluster Services, pods, LAN edge hosts)."""


def blackbox_config() -> str:
    """blackbox.yml: one HTTP module expecting 2xx, IPv4, no redirects."""
    return to_yaml(
        {
            "modules": {
                "http_2xx": {
                    "prober": "http",
                    "timeout": "5s",
                    "http": {"preferred_ip_protocol": "ip4", "valid_status_codes": [], "follow_redirects": False},
                }
            }
        }
    )


def _probe_ports(contributions: list[MonitoringContribution]) -> list[int]:
    ports = set()
    for c in contributions:
        for p in c.probe_targets:
            url = urlparse(p.url)
            ports.add(url.port or (443 if url.scheme == "https" else 80))
    return sorted(ports)


def deploy_blackbox(b: Builder, *, contributions: list[MonitoringContribution], scraper_selectors: list[dict[str, str]],
                    scraper_namespace: dict[str, str] | None) -> str:
    """The blackbox exporter (Deployment, Service, NetworkPolicy); returns its in-cluster address."""
    img = image("blackbox-exporter")
    obj, app = f"{b.name}-blackbox-exporter", "blackbox-exporter"
    conf = blackbox_config()
    b.config_map(obj, app, img.tag, {"blackbox.yml": conf})
    container = server_container(
        "blackbox-exporter", img.ref,
        ["--config.file=/etc/blackbox/blackbox.yml", f"--web.listen-address=:{BLACKBOX_PORT}", "--log.format=json"],
        BLACKBOX_PORT, "http", [VolumeMountArgs(name="config", mount_path="/etc/blackbox", read_only=True)],
        ready="/-/healthy", live="/-/healthy", res=resources("50m", "64Mi", cpu_limit="200m", memory_limit="128Mi"), startup_failures=6,
    )
    volumes = [VolumeArgs(name="config", config_map=ConfigMapVolumeSourceArgs(name=obj, default_mode=0o444))]
    b.deployment(obj, app, img.tag, container, volumes, checksum=config_checksum(conf))
    b.service(obj, app, img.tag, BLACKBOX_PORT, "http")
    egress = []
    ports = _probe_ports(contributions)
    if ports:
        # Probe targets are in-cluster Services or hosts on the cluster's network: private and CGNAT ranges only,
        # never the internet or the metadata address (a public target is not probed: docs/monitoring.md).
        egress.append(NetworkPolicyEgressRuleArgs(
            to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr=c)) for c in PROBE_CIDRS],
            ports=[NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports]))
    b.network_policy(obj, app, img.tag, [ingress_from_pods(scraper_selectors, [BLACKBOX_PORT], namespace_labels=scraper_namespace)], egress)
    return f"{obj}.{b.namespace}.svc:{BLACKBOX_PORT}"
