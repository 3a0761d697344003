"""CKV_SLM_031 (manifest set): with a model gateway, model servers admit only the gateway and Prometheus.

The gateway is recognised by what it runs (a container starting vLLM's router: ``vllm_router.launch_router``
or the ``vllm-router`` binary); the model servers behind it are the workloads its Kubernetes discovery
selects (``--selector k=v ...`` in ``--service-discovery-namespace``) plus every vLLM engine workload of
that namespace. Each of them must be selected by an ingress NetworkPolicy, and every ingress peer of
every policy selecting it must be either the gateway's own pods (at least the gateway Deployment's
selector labels, same namespace) or Prometheus pods (``app.kubernetes.io/name: prometheus``, in the
same namespace or one named namespace). NetworkPolicies add up, so one broad rule anywhere opens the pod.

The Gateway API Inference Extension (GAIE) is a gateway too: there the model servers are the pods an
``InferencePool`` (``inference.networking.k8s.io``) selects in its namespace, plus every vLLM engine of that
namespace, and the peers allowed besides Prometheus are the pool's endpoint picker (the pods of the Service its
``endpointPickerRef`` names, same namespace: it scrapes their metrics) and the cluster Gateway's data plane the
pool declares in its ``slm-deploy.io/gateway-data-plane`` annotation (``{"podLabels", "namespaceLabels"}``, both
non-empty; a peer must carry all those pod labels and select namespaces by all those namespace labels). A pool
without that declaration admits no data plane, so any cross-namespace peer fails.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from policies.rules._argv import tokens
from policies.rules._identify import runs_vllm_engine
from policies.rules._k8s import (
    as_dict, as_list, container_argv, containers, is_serving_workload, namespace, pod_labels, pod_template,
)
from policies.rules._types import CheckMeta, Result
from policies.rules.network_policy_coverage import (
    PolicyIndex, ingress_policies_selecting, ingress_rules, restricts_ingress,
)

META = CheckMeta(
    id="CKV_SLM_031",
    name="Ensure that, with a model gateway, model servers admit traffic only from the gateway and Prometheus",
    severity="CRITICAL",
    rationale=(
        "Behind a gateway the model servers run without their own key check: the gateway holds the client keys, "
        "allow-lists and limits. Any other pod that can reach a model server's port bypasses all of them and "
        "uses every model without a key or a limit. Each ingress rule of every NetworkPolicy selecting a model "
        "server must name only the gateway's pods (its Deployment selector, same namespace) or Prometheus's; "
        "with the Gateway API Inference Extension, the InferencePool's endpoint picker and the Gateway data plane "
        "the pool declares instead of the gateway's pods. Policies add up, so one open rule is enough to bypass "
        "the gateway."
    ),
    reference="https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors",
    framework="manifest-set",
    kinds=("Deployment", "StatefulSet"),
)

PROMETHEUS_LABEL = ("app.kubernetes.io/name", "prometheus")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_ROUTER_MODULE = "vllm_router.launch_router"
POOL_GROUP = "inference.networking.k8s.io"
DATA_PLANE_ANNOTATION = "slm-deploy.io/gateway-data-plane"


@dataclass(frozen=True)
class Allowed:
    """Peers a model server may admit besides Prometheus: pods carrying all of ``pods``, in the server's namespace
    (``namespace_labels`` None) or in namespaces selected by (at least) all of ``namespace_labels``."""

    pods: dict[str, str]
    namespace_labels: dict[str, str] | None
    what: str


def runs_router(container: dict) -> bool:
    toks = tokens(container_argv(container))
    return _ROUTER_MODULE in toks or any(t.rsplit("/", 1)[-1] == "vllm-router" for t in toks[:1])


def discovery(container: dict) -> tuple[dict[str, str], str | None]:
    """(label selector, namespace) of the router's Kubernetes discovery (empty selector: none)."""
    toks = tokens(container_argv(container))
    selector: dict[str, str] = {}
    ns = None
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok == "--selector":
            i += 1
            while i < len(toks) and not toks[i].startswith("-") and "=" in toks[i]:
                key, value = toks[i].split("=", 1)
                selector[key] = value
                i += 1
            continue
        if tok == "--service-discovery-namespace" and i + 1 < len(toks):
            ns = toks[i + 1]
        i += 1
    return selector, ns


def gateways(objects: list[dict]) -> list[tuple[dict, dict]]:
    """(gateway workload, router container) pairs."""
    found = []
    for obj in objects:
        tpl = pod_template(obj)
        if tpl and obj.get("kind") != "PodTemplate":
            for c in containers(tpl[1], init=False):
                if runs_router(c):
                    found.append((obj, c))
    return found


def _runs_engine(workload: dict) -> bool:
    tpl = pod_template(workload)
    return bool(tpl) and any(runs_vllm_engine(c.get("image"), container_argv(c)) for c in containers(tpl[1], init=False))


def _carries(labels: dict, required: dict[str, str]) -> bool:
    return bool(required) and all(labels.get(k) == v for k, v in required.items())


def _peer_problem(peer: dict, ns: str, allowed: list[Allowed]) -> str | None:
    if "ipBlock" in peer:
        return f"admits the address block {as_dict(peer.get('ipBlock')).get('cidr')!r}"
    pods = as_dict(peer.get("podSelector"))
    labels = as_dict(pods.get("matchLabels"))
    if "podSelector" not in peer:
        return f"admits every pod of the namespaces selected by {as_dict(peer.get('namespaceSelector'))}"
    ns_selector = peer.get("namespaceSelector")
    ns_labels = as_dict(as_dict(ns_selector).get("matchLabels"))
    same_namespace = ns_selector is None or ns_labels == {NAMESPACE_NAME_LABEL: ns}
    for a in allowed:
        if not _carries(labels, a.pods):
            continue
        if a.namespace_labels is None:
            return None if same_namespace else f"admits {a.what}-labelled pods outside namespace {ns!r}: {ns_selector}"
        if ns_selector is not None and _carries(ns_labels, a.namespace_labels):
            return None
        return f"admits {a.what}-labelled pods of namespaces selected by {ns_selector} (declared: {a.namespace_labels})"
    if labels.get(PROMETHEUS_LABEL[0]) == PROMETHEUS_LABEL[1]:
        named = ns_selector is None or set(ns_labels) == {NAMESPACE_NAME_LABEL}
        return None if named else f"admits Prometheus-labelled pods of any namespace selected by {ns_selector}"
    return f"admits pods selected by {pods or '{}'} (neither the gateway nor Prometheus)"


def evaluate_server(server: dict, objects: list[dict], allowed: list[Allowed],
                    index: PolicyIndex | None = None) -> Result:
    ns = namespace(server)
    policies = ingress_policies_selecting(server, objects, index)
    problems = [] if policies else [f"no ingress NetworkPolicy in namespace {ns!r} selects it: every pod can reach it"]
    for name, i, rule in ingress_rules(policies):
        peers = as_list(rule.get("from"))
        if not peers:
            problems.append(f"NetworkPolicy {name!r} ingress[{i}] has no `from`: it admits every source")
        for peer in peers:
            problem = _peer_problem(as_dict(peer), ns, allowed)
            if problem:
                problems.append(f"NetworkPolicy {name!r} ingress[{i}] {problem}")
    return Result.judge(True, problems)


def _labels(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_dict(value).items()}


def inference_pools(objects: list[dict]) -> list[tuple[dict, dict[str, str], list[Allowed]]]:
    """(pool, its pod selector, the peers it allows besides Prometheus) for every GAIE InferencePool."""
    found = []
    for pool in objects:
        if pool.get("kind") != "InferencePool" or not str(pool.get("apiVersion", "")).startswith(f"{POOL_GROUP}/"):
            continue
        ns, spec = namespace(pool), as_dict(pool.get("spec"))
        allowed = []
        ref = as_dict(spec.get("endpointPickerRef"))
        if ref.get("kind", "Service") == "Service" and ref.get("group", "") == "":
            for svc in objects:
                if svc.get("kind") == "Service" and namespace(svc) == ns and as_dict(svc.get("metadata")).get("name") == ref.get("name"):
                    allowed.append(Allowed(_labels(as_dict(svc.get("spec")).get("selector")), None, "endpoint-picker"))
        try:
            declared = json.loads(as_dict(as_dict(pool.get("metadata")).get("annotations")).get(DATA_PLANE_ANNOTATION) or "{}")
        except ValueError:
            declared = {}
        pods, namespaces = _labels(as_dict(declared).get("podLabels")), _labels(as_dict(declared).get("namespaceLabels"))
        if pods and namespaces:
            allowed.append(Allowed(pods, namespaces, "Gateway data-plane"))
        found.append((pool, _labels(as_dict(spec.get("selector")).get("matchLabels")), allowed))
    return found


def _candidates(objects: list[dict]) -> list[dict]:
    return [o for o in objects if pod_template(o) and o.get("kind") not in ("PodTemplate", "Job", "CronJob")]


def evaluate(objects: list[dict]) -> list[tuple[dict, Result]]:
    results: list[tuple[dict, Result]] = []
    judged: set[int] = set()
    index = PolicyIndex(objects, restricts_ingress)
    pools = inference_pools(objects)
    pool_namespaces: dict[str, list[Allowed]] = {}
    for pool, selector, allowed in pools:
        ns = namespace(pool)
        pool_namespaces.setdefault(ns, []).extend(allowed)
        for obj in _candidates(objects):
            if id(obj) not in judged and namespace(obj) == ns and selector and _carries(pod_labels(obj), selector):
                judged.add(id(obj))
                results.append((obj, evaluate_server(obj, objects, allowed, index)))
    for ns, allowed in pool_namespaces.items():  # the namespace's other vLLM engines: any pool's peers at most
        for obj in _candidates(objects):
            if id(obj) not in judged and namespace(obj) == ns and is_serving_workload(obj) and _runs_engine(obj):
                judged.add(id(obj))
                results.append((obj, evaluate_server(obj, objects, allowed, index)))
    for gateway, router in gateways(objects):
        ns = namespace(gateway)
        selector, discovery_ns = discovery(router)
        gateway_selector = {str(k): str(v) for k, v in as_dict(as_dict(
            as_dict(gateway.get("spec")).get("selector")).get("matchLabels")).items()} or pod_labels(gateway)
        for obj in objects:
            if id(obj) in judged or obj is gateway or not pod_template(obj) or obj.get("kind") in ("PodTemplate", "Job", "CronJob"):
                continue
            routed = bool(selector) and namespace(obj) == (discovery_ns or ns) and all(
                pod_labels(obj).get(k) == v for k, v in selector.items())
            if routed or (namespace(obj) == ns and is_serving_workload(obj) and _runs_engine(obj)):
                judged.add(id(obj))
                results.append((obj, evaluate_server(obj, objects, [Allowed(gateway_selector, None, "gateway")], index)))
    return results
