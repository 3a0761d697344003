"""Where the monitoring pods may connect to (issue #10: no 443 egress to the cluster's own or the API server's
addresses except where a pod needs the API)."""

from __future__ import annotations

import pytest

from tests_monitoring_helpers import synth_custom

NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NON_PUBLIC = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]
API = "203.0.113.10/32"


@pytest.fixture(scope="module")
def declared():
    return synth_custom("standalone", cluster={"apiServerCidrs": [API]})


def _egress(result, name: str) -> list[dict]:
    [policy] = [r for r in result.resources if r.type == NP and r.name == name]
    return policy.inputs["spec"]["egress"]


def test_alertmanager_receivers_exclude_the_declared_api_server(declared):
    [https] = [r for r in _egress(declared, "monitoring-alertmanager") if r.get("to", [{}])[0].get("ipBlock")]
    assert https["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [*NON_PUBLIC, API]}}]
    assert [p["port"] for p in https["ports"]] == [443]
