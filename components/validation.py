"""Field checks shared by the Args models, so each rule (and its message) is written once."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["dns_label", "ip_address"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns_label(value: str, *, max_len: int = 63, what: str | None = None, why: str = "") -> str:
    """``value`` if it is a DNS-1123 label of at most ``max_len`` characters, else a ValueError saying what is allowed.

    ``what`` names the field in the message (leave it out where the error already shows key and value);
    ``why`` explains a limit tighter than 63, e.g. because object names get suffixes.
    """
    if not _DNS_LABEL.match(value) or len(value) > max_len:
        subject = f"{what} {value!r} " if what else ""
        raise ValueError(
            f"{subject}must be a DNS-1123 label: lowercase letters, digits and '-', at most {max_len} characters{why}"
        )
    return value


def ip_address(value: str, *, what: str, hint: str) -> str:
    """``value`` if it is an IPv4/IPv6 address, else a ValueError naming ``what`` and ``hint``."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an IP address ({hint})") from None
    return value
