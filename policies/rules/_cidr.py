"""Address-block arithmetic for NetworkPolicy ``ipBlock`` peers (``cidr`` minus ``except``), no checkov import."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NON_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918: pods, Services, nodes, the in-cluster API server
    "169.254.0.0/16",  # link-local: cloud metadata (169.254.169.254)
    "100.64.0.0/10",  # RFC 6598 CGNAT: some pod networks
    "fc00::/7", "fe80::/10",  # IPv6 unique-local (incl. fd00:ec2::254, AWS metadata) and link-local
))
"""Addresses that are never the public internet but a pod can reach: the cluster's own networks, private
endpoints and the cloud metadata service (components/hardening.py NON_PUBLIC_CIDRS is the IPv4 part)."""

LOOPBACK = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128"))
"""The pod's own loopback: not public, and never subject to a NetworkPolicy."""


def network(text: object) -> Network | None:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def is_internal(cidr: object) -> bool:
    """True when the whole block lies inside :data:`NON_PUBLIC` (False for an unparseable block)."""
    net = network(cidr)
    return net is not None and any(net.version == inner.version and net.subnet_of(inner) for inner in NON_PUBLIC + LOOPBACK)


def subtract(nets: Iterable[Network], holes: Iterable[Network]) -> list[Network]:
    """``nets`` minus every block of ``holes`` (same-version blocks only), as a list of blocks."""
    left = list(nets)
    for hole in holes:
        nxt: list[Network] = []
        for net in left:
            if net.version != hole.version or not net.overlaps(hole):
                nxt.append(net)
            elif not net.subnet_of(hole):
                nxt.extend(net.address_exclude(hole))
        left = nxt
    return left


def admitted(cidr: object, excepts: Iterable[object]) -> list[Network] | None:
    """What an ``ipBlock`` admits (``cidr`` minus ``except``); None when ``cidr`` does not parse."""
    net = network(cidr)
    if net is None:
        return None
    return subtract([net], [h for h in map(network, excepts) if h is not None])


def non_public_part(blocks: Iterable[Network]) -> list[Network]:
    """The parts of ``blocks`` inside :data:`NON_PUBLIC`."""
    found: list[Network] = []
    for net in blocks:
        for inner in NON_PUBLIC:
            if net.version != inner.version or not net.overlaps(inner):
                continue
            found.append(net if net.subnet_of(inner) else inner)
    return found


def public_part(blocks: Iterable[Network]) -> list[Network]:
    """The parts of ``blocks`` outside :data:`NON_PUBLIC` (the internet)."""
    return subtract(blocks, NON_PUBLIC + LOOPBACK)
