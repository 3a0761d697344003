"""Direct assertions on the shared hardening defaults: every pod of every reference stack gets them.

These do not go through golden files, so refreshing a snapshot cannot accept a regression here.
"""

from __future__ import annotations

import pytest

from stacks.loader import list_stacks, load_stack
from slm_deploy.render import manifest_objects

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


@pytest.fixture
def pods(synthesized):
    def get(stack: str):
        for obj in manifest_objects(synthesized(stack)):
            if obj["kind"] in WORKLOADS:
                yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]
    return get


K8S_STACKS = [s for s in list_stacks() if load_stack(s).config.target == "kubernetes"]


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_every_pod_is_restricted(stack: str, pods):
    pods = list(pods(stack))
    assert pods, f"{stack} has no workloads"
    for name, pod in pods:
        assert pod["automountServiceAccountToken"] is False, name
        ctx = pod["securityContext"]
        assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] >= 10000 and ctx["runAsGroup"] >= 10000, name
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert ctx["fsGroupChangePolicy"] == "OnRootMismatch", name
        for c in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name}:{c['name']}"
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc.get("privileged") in (False, None), where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), where
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000, where
            assert sc["readOnlyRootFilesystem"] is True, where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{where} {kind}"
            assert "@sha256:" in c["image"], where
            for env in c.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {}), f"{where} env {env['name']}"


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_long_running_containers_have_probes(stack: str, pods):
    for name, pod in pods(stack):
        if pod.get("restartPolicy") in ("Never", "OnFailure"):
            continue  # Jobs
        for c in pod["containers"]:
            assert c.get("livenessProbe") and c.get("readinessProbe"), f"{name}:{c['name']}"


DOCKER_STACKS = [s for s in list_stacks() if load_stack(s).config.target == "docker"]


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_every_docker_container_is_hardened(stack: str, synthesized):
    """components.hardening.docker_container_hardening on every container of every Docker stack."""
    containers = [r for r in synthesized(stack).resources if r.type == "docker:index/container:Container"]
    assert containers, f"{stack} has no containers"
    for c in containers:
        inputs = c.inputs
        assert inputs["readOnly"] is True, c.name
        assert inputs["capabilities"] == {"drops": ["ALL"]}, c.name
        assert "no-new-privileges:true" in inputs["securityOpts"], c.name
        assert inputs["privileged"] is False, c.name
        assert inputs.get("networkMode") != "host", c.name
        assert inputs["memory"] > 0 and inputs["memorySwap"] == inputs["memory"], c.name


def test_egress_public_excludes_every_non_public_range():
    """components.hardening.egress_public: 0.0.0.0/0 minus RFC 1918, link-local, CGNAT (+ the caller's extras)."""
    from components.hardening import NON_PUBLIC_CIDRS, egress_public

    assert set(NON_PUBLIC_CIDRS) == {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"}
    rule = egress_public([443, 8443], also_except=["203.0.113.10/32"])
    (peer,) = rule.to
    assert peer.ip_block.cidr == "0.0.0.0/0"
    assert peer.ip_block.except_ == [*NON_PUBLIC_CIDRS, "203.0.113.10/32"]
    assert [p.port for p in rule.ports] == [443, 8443]


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_internet_egress_never_reaches_private_ranges(stack: str, synthesized):
    """Every NetworkPolicy egress rule that opens a port beyond the cluster (Ollama's and the edge server's
    downloads, Alertmanager's receivers, vLLM's download) goes to 0.0.0.0/0 minus the non-public ranges:
    never an egress rule without ``to`` (any address, cluster API server and cloud metadata included)."""
    from components.hardening import NON_PUBLIC_CIDRS

    checked = 0
    for obj in manifest_objects(synthesized(stack)):
        if obj["kind"] != "NetworkPolicy":
            continue
        name = obj["metadata"]["name"]
        for rule in obj["spec"].get("egress", []):
            ports = {p.get("port") for p in rule.get("ports", [])}
            if ports <= {53}:
                continue  # DNS
            peers = rule.get("to")
            if 6443 in ports:
                continue  # Kubernetes API clients (Prometheus, the gateway's pod discovery): the API server is in-cluster
            assert peers, f"{stack} NetworkPolicy/{name}: egress on {sorted(ports, key=str)} to any address"
            for peer in peers:
                block = peer.get("ipBlock")
                if block is None:
                    continue  # pod/namespace selectors: in-cluster peers the stack names
                assert block["cidr"] == "0.0.0.0/0" and set(NON_PUBLIC_CIDRS) <= set(block.get("except", [])), (
                    f"{stack} NetworkPolicy/{name}: {block}")
                checked += 1
    if stack in ("cpu", "staging"):
        assert checked, f"{stack}: no internet egress rule found (Ollama's or Alertmanager's)"
