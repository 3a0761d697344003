"""Parse compose `ports:` entries (short and long syntax) into (host_ip, published, target)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str  # "" means all interfaces
    published: str  # "" means an ephemeral host port
    target: str
    raw: str


def parse_port(entry: object) -> PublishedPort:
    if isinstance(entry, dict):
        return PublishedPort(str(entry.get("host_ip") or ""), str(entry.get("published") or ""),
                             str(entry.get("target") or ""), repr(entry))
    raw = str(entry)
    spec = raw.split("/", 1)[0]
    host_ip = ""
    if spec.startswith("["):  # [::1]:8080:80
        end = spec.index("]")
        host_ip, spec = spec[1:end], spec[end + 2:]
    parts = spec.split(":")
    if len(parts) == 3:
        host_ip, published, target = parts
    elif len(parts) == 2:
        published, target = parts
    else:
        published, target = "", parts[0]
    return PublishedPort(host_ip, published, target, raw)


def is_loopback(host_ip: str) -> bool:
    if host_ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_ip).is_loopback
    except ValueError:
        return False
