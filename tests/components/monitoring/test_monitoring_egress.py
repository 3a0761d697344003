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


def _api_rule(result) -> dict:
    [api] = [r for r in _egress(result, "monitoring-prometheus") if [p["port"] for p in r.get("ports", [])] == [443, 6443]]
    return api


def test_prometheus_reaches_only_the_declared_api_server(declared):
    """kubernetes_sd needs the API server; with cluster.apiServerCidrs declared, those addresses and nothing else."""
    assert _api_rule(declared)["to"] == [{"ipBlock": {"cidr": API}}]


def test_prometheus_falls_back_to_the_private_ranges():
    """Undeclared: the private ranges, where the in-cluster API address lives (never 443/6443 to any address)."""
    api = _api_rule(synth_custom("standalone"))
    assert api["to"] == [{"ipBlock": {"cidr": c}} for c in NON_PUBLIC[:3]]


def test_blackbox_probes_only_private_addresses(declared):
    rules = _egress(declared, "monitoring-blackbox-exporter")
    probe = [r for r in rules if {p["port"] for p in r["ports"]} != {53}]
    assert probe and all(r.get("to") for r in probe), "no egress rule without `to`"
    assert {peer["ipBlock"]["cidr"] for r in probe for peer in r["to"]} == {*NON_PUBLIC[:3], "100.64.0.0/10"}
