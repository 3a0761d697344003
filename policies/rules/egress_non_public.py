"""CKV_SLM_035: a NetworkPolicy egress rule that reaches the internet never reaches the cluster's own networks.

Judged per NetworkPolicy, every egress rule: a rule without ``to`` (any destination), or an ``ipBlock``
whose ``cidr`` minus its ``except`` list admits public addresses, must not also admit private
(RFC 1918), link-local (cloud metadata), CGNAT or IPv6 unique-local/link-local addresses. The twin of
``components/hardening.py`` ``egress_public`` (``0.0.0.0/0`` except ``NON_PUBLIC_CIDRS``). Blocks wholly
inside those ranges (in-cluster peers, the Kubernetes API at its private address) and public blocks
that leave them out (a declared API server address, a mirror's CIDR) pass.
"""
from __future__ import annotations

from policies.rules._cidr import admitted, non_public_part, public_part
from policies.rules._k8s import as_dict, as_list
from policies.rules._types import CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_035",
    name="Ensure egress rules that reach the internet exclude private, link-local and CGNAT addresses",
    severity="HIGH",
    rationale=(
        "An egress rule to 0.0.0.0/0 (or ::/0, or no `to` at all) also reaches every pod and Service of the "
        "cluster on those ports, the API server at its private address, private endpoints of the VPC and the "
        "cloud metadata service (169.254.169.254, which hands out node credentials): a compromised download "
        "or webhook pod pivots inward instead of staying on the internet. A rule that reaches public "
        "addresses must except RFC 1918, 169.254.0.0/16 and 100.64.0.0/10 (IPv6: fc00::/7, fe80::/10); "
        "in-cluster destinations are named by their own rules."
    ),
    reference="https://kubernetes.io/docs/reference/kubernetes-api/networking-resources/network-policy-v1/#NetworkPolicySpec",
    framework="kubernetes",
    kinds=("NetworkPolicy",),
)


def _fmt(nets) -> str:
    return ", ".join(str(n) for n in nets)


def rule_problems(index: int, rule: dict) -> list[str]:
    peers = as_list(rule.get("to"))
    where = f"egress[{index}]"
    if not peers:
        return [f"{where} has no `to`: any address, private ranges and cloud metadata included"]
    problems = []
    for peer in map(as_dict, peers):
        block = as_dict(peer.get("ipBlock"))
        if not block:
            continue
        left = admitted(block.get("cidr"), as_list(block.get("except")))
        if left is None:
            problems.append(f"{where} ipBlock {block.get('cidr')!r} is not an address block")
            continue
        inward = non_public_part(left)
        if public_part(left) and inward:
            problems.append(f"{where} ipBlock {block.get('cidr')} reaches the internet and also {_fmt(inward)}: "
                            "add them to its except list")
    return problems


def evaluate(obj: dict) -> Result:
    spec = as_dict(obj.get("spec"))
    types = as_list(spec.get("policyTypes"))
    if "Egress" not in types and not (not types and "egress" in spec):
        return Result.judge(True, [])  # not an egress policy: it allows no egress, so it passes
    problems = []
    for i, rule in enumerate(map(as_dict, as_list(spec.get("egress")))):
        problems += rule_problems(i, rule)
    return Result.judge(True, problems)
