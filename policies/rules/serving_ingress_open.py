"""CKV_SLM_034 (manifest set): no NetworkPolicy admits any source to a web UI, Ollama or model-server port.

Judged per serving workload (Open WebUI, Ollama, vLLM, any pod labelled as a model server; Jobs are not):
every ingress rule of every NetworkPolicy in its namespace that selects its pods and reaches one of its
serving ports (the container ports of every container but the ``auth-proxy`` sidecar, whose ``http-auth``
port checks the API key itself; a rule without ``ports`` reaches all of them) must name its sources. A
rule admits any source when it has no ``from``, or a peer that selects every pod of every namespace
(``namespaceSelector: {}`` without a narrowing ``podSelector``), every pod of the namespace (``podSelector:
{}`` alone), or an ``ipBlock`` that admits public addresses (clients outside the cluster, through a
LoadBalancer or NodePort). NetworkPolicies add up, so one open rule anywhere opens the pod.
"""
from __future__ import annotations

from policies.rules._cidr import admitted, public_part
from policies.rules._identify import AUTH_PROXY_CONTAINER
from policies.rules._k8s import as_dict, as_list, containers, is_serving_workload, namespace, pod_template
from policies.rules._types import CheckMeta, Result
from policies.rules.network_policy_coverage import (
    PolicyIndex, ingress_policies_selecting, ingress_rules, restricts_ingress,
)

META = CheckMeta(
    id="CKV_SLM_034",
    name="Ensure no NetworkPolicy admits any source to a web UI, Ollama or model-server port",
    severity="HIGH",
    rationale=(
        "Ollama has no authentication, vLLM's --api-key covers only /v1, and Open WebUI hands out accounts to "
        "whoever reaches its sign-up page first: inside the cluster the NetworkPolicy is their access control. "
        "An ingress rule without `from`, with an empty namespaceSelector (every pod of every namespace), an "
        "empty podSelector alone (every pod of the namespace) or an ipBlock holding public addresses admits "
        "anyone on the serving port; policies add up, so one such rule opens the pod. Name the client pods "
        "(or the ingress controller) instead; only the auth proxy's http-auth port, which checks the key, may "
        "be open to every caller."
    ),
    reference="https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors",
    framework="manifest-set",
    kinds=("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"),
)


def _empty(selector: object) -> bool:
    sel = as_dict(selector)
    return not as_dict(sel.get("matchLabels")) and not as_list(sel.get("matchExpressions"))


def peer_problem(peer: dict, ns: str) -> str | None:
    """Why one ``from`` peer admits any source (None when it names its sources)."""
    if "ipBlock" in peer:
        block = as_dict(peer.get("ipBlock"))
        left = admitted(block.get("cidr"), as_list(block.get("except")))
        if left is None:
            return f"admits the unparseable address block {block.get('cidr')!r}"
        return f"admits public addresses ({block.get('cidr')} minus its except list)" if public_part(left) else None
    if "namespaceSelector" in peer and _empty(peer.get("namespaceSelector")):
        if "podSelector" not in peer or _empty(peer.get("podSelector")):
            return "admits every pod of every namespace (empty namespaceSelector)"
        return None
    if "namespaceSelector" not in peer and "podSelector" in peer and _empty(peer.get("podSelector")):
        return f"admits every pod of namespace {ns!r} (empty podSelector)"
    if "namespaceSelector" not in peer and "podSelector" not in peer:
        return "admits any source (a peer that selects nothing narrows nothing)"
    return None


def serving_ports(workload: dict) -> list[dict]:
    """Container ports of every container but the auth-proxy sidecar."""
    tpl = pod_template(workload)
    return [as_dict(p) for c in containers(tpl[1], init=False) if c.get("name") != AUTH_PROXY_CONTAINER
            for p in as_list(c.get("ports"))] if tpl else []


def _reaches(rule_ports: list, ports: list[dict]) -> list[str]:
    """Which serving ports an ingress rule reaches (all, as ``*``, when the rule or the pod names none)."""
    if not rule_ports or not ports:
        return ["*"]
    hit = []
    for port in ports:
        number, name = port.get("containerPort"), port.get("name")
        for rp in map(as_dict, rule_ports):
            value, end = rp.get("port"), rp.get("endPort")
            if value is None or value == name or value == number or (
                    isinstance(value, int) and isinstance(number, int) and isinstance(end, int) and value <= number <= end):
                hit.append(str(name or number))
                break
    return hit


def evaluate_workload(workload: dict, objects: list[dict], index: PolicyIndex | None = None) -> Result:
    ns, ports = namespace(workload), serving_ports(workload)
    policies = ingress_policies_selecting(workload, objects, index)
    problems = [] if policies else [f"no ingress NetworkPolicy in namespace {ns!r} selects it: it admits any source"]
    for name, i, rule in ingress_rules(policies):
        reached = _reaches(as_list(rule.get("ports")), ports)
        if not reached:
            continue
        peers = as_list(rule.get("from"))
        where = f"NetworkPolicy {name!r} ingress[{i}] (ports {', '.join(reached)})"
        if not peers:
            problems.append(f"{where} has no `from`: it admits any source")
        for peer in peers:
            problem = peer_problem(as_dict(peer), ns)
            if problem:
                problems.append(f"{where} {problem}")
    return Result.judge(True, problems)


def evaluate(objects: list[dict]) -> list[tuple[dict, Result]]:
    index = PolicyIndex(objects, restricts_ingress)
    return [(w, evaluate_workload(w, objects, index)) for w in objects
            if w.get("kind") != "PodTemplate" and is_serving_workload(w)]
