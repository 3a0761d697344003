"""The shared field checks: one rule, one message, everywhere."""

import pytest

from components.validation import dns_label, ip_address


@pytest.mark.parametrize("value", ["a", "phi4-mini", "x" * 63])
def test_dns_label_accepts(value):
    assert dns_label(value) == value


@pytest.mark.parametrize("value", ["", "Bad", "-a", "a-", "a_b", "a.b", "x" * 64])
def test_dns_label_rejects_and_says_what_is_allowed(value):
    with pytest.raises(ValueError, match="must be a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters"):
        dns_label(value)


def test_dns_label_tighter_limit_names_field_and_reason():
    with pytest.raises(ValueError, match=r"^name 'x{43}' must be a DNS-1123 label: .* at most 42 characters \(suffixes\)$"):
        dns_label("x" * 43, max_len=42, what="name", why=" (suffixes)")


def test_ip_address():
    assert ip_address("::1", what="publishAddress", hint="h") == "::1"
    with pytest.raises(ValueError, match=r"^publishAddress 'everywhere' is not an IP address \(use 127.0.0.1\)$"):
        ip_address("everywhere", what="publishAddress", hint="use 127.0.0.1")
