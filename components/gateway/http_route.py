"""The HTTPRoute that attaches the stack's InferencePools to the cluster's Gateway (cluster.inferenceGateway).

One rule per vLLM service: it matches the header the gateway proxy sets to the request body's ``model``
(``X-Gateway-Model-Name``, exactly; one match per served name, the base model and its LoRA adapters) on ``/v1/``,
and sends the request to that service's InferencePool (GAIE's multi-model routing:
``site-src/guides/serve-multiple-genai-models.md:17-48`` at GAIE v1.0.0; the proxy takes Body-Based Routing's place).
Gateway API v1.3.0 (the version GAIE v1.0.0's go.mod requires) allows 16 rules per route, so more services take
more routes (``<gateway>``, ``<gateway>-2`` ...).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.context import InferenceGateway
from components.gateway.constants import MODEL_HEADER
from components.gateway.inference_pool import POOL_GROUP, PoolRef

__all__ = ["MAX_RULES", "http_routes", "route_rules"]

MAX_RULES = 16
"""``spec.rules`` maxItems in Gateway API v1.3.0's HTTPRoute CRD (standard channel)."""


def route_rules(pools: list[PoolRef]) -> list[dict]:
    """One HTTPRoute rule per pool: every served name of it, matched exactly on the model header."""
    return [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/v1/"},
                     "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": model}]} for model in pool.models],
        "backendRefs": [{"group": POOL_GROUP, "kind": "InferencePool", "name": pool.name}],
    } for pool in pools]


def http_routes(name: str, namespace: str, labels: dict[str, str], gaie: InferenceGateway, pools: list[PoolRef], *,
                opts: pulumi.ResourceOptions) -> list[k8s.apiextensions.CustomResource]:
    """The stack's HTTPRoute(s) on ``gaie``'s Gateway (parentRef), in the stack namespace beside the pools."""
    rules = route_rules(pools)
    routes = []
    for i in range(0, len(rules), MAX_RULES):
        route = name if i == 0 else f"{name}-{i // MAX_RULES + 1}"
        routes.append(k8s.apiextensions.CustomResource(
            route, api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute",
            metadata=ObjectMetaArgs(name=route, namespace=namespace, labels=labels),
            spec={
                "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gaie.name,
                                "namespace": gaie.namespace}],
                "rules": rules[i:i + MAX_RULES],
            },
            opts=opts))
    return routes
