"""The generated proxy files, without running them (the live tests run them in nginx)."""

from __future__ import annotations

import hashlib

import pytest

from components.gateway.proxy import ProxyClient, gateway_nginx_conf, key_digest, keys_file_text


def test_keys_file_holds_hashes_only():
    text = keys_file_text({"chat-app": ["sk-One", "sk-Two"], "batch-jobs": ["sk-Three"]})
    assert "sk-One" not in text and "sk-Two" not in text and "sk-Three" not in text
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        f"chat-app {hashlib.sha256(b'sk-One').hexdigest()}",
        f"chat-app {hashlib.sha256(b'sk-Two').hexdigest()}",
        f"batch-jobs {hashlib.sha256(b'sk-Three').hexdigest()}",
    ]


@pytest.mark.parametrize("bad", ["", "has space", "tab\there", "new\nline"])
def test_keys_with_whitespace_are_refused(bad):
    with pytest.raises(ValueError, match="no whitespace"):
        key_digest(bad)


def test_limits_render_per_client():
    conf = gateway_nginx_conf(
        [ProxyClient("chat-app", ("phi", "qwen"), rpm=600, concurrency=8),
         ProxyClient("batch-jobs", ("qwen",), rpm=3, concurrency=1)],
        ["phi", "qwen"], router="127.0.0.1:8001",
    )
    assert "limit_req_zone $gw_key_0 zone=gw_rpm_0:1m rate=600r/m;" in conf
    assert "limit_req zone=gw_rpm_0 burst=100 nodelay;" in conf
    assert "limit_req zone=gw_rpm_1 nodelay;" in conf  # 3 RPM: no burst above the rate
    assert "limit_conn gw_conn_1 1;" in conf
    assert '"batch-jobs:REJECTED" 20;' in conf  # Retry-After = ceil(60 / 3)
    assert '"chat-app" "phi qwen";' in conf
    assert 'proxy_set_header Authorization "";' in conf


def test_retry_after_and_burst_defaults():
    assert ProxyClient("a", ("m",), rpm=7, concurrency=1).retry_after == 9
    assert ProxyClient("a", ("m",), rpm=6000, concurrency=1).retry_after == 1
    assert ProxyClient("a", ("m",), rpm=60, concurrency=1).effective_burst == 10
    assert ProxyClient("a", ("m",), rpm=60, concurrency=1, burst=0).effective_burst == 0
