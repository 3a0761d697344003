"""ModelGateway: one OpenAI endpoint for every model of a stack, with named client keys and limits.

Type token ``slm:serving:ModelGateway``. Inputs are :class:`GatewayArgs` (``args.py``), the
served model names and the stack's :class:`~components.context.StackContext`. The modules beside
this one do the work:

* :mod:`components.gateway.k8s`         Deployment (nginx + njs proxy, vllm-router, metrics exporter), Service,
  NetworkPolicy (no internet egress), PDB, discovery Role, key Secrets, optional Ingress;
* :mod:`components.gateway.install`     the router install volume and Job (the gateway's only internet egress);
* :mod:`components.gateway.proxy`       the proxy's nginx.conf and keys file (hashes only);
* :mod:`components.gateway.monitoring`  its MonitoringContribution (per-client panels and alerts);
* :mod:`components.gateway.inference_pool`, :mod:`components.gateway.http_route`  with cluster.inferenceGateway
  (GAIE): an InferencePool and endpoint picker per vLLM service and the HTTPRoute on the cluster's Gateway,
  which the proxy forwards to instead of vllm-router.

Model servers admit only the gateway and Prometheus when a stack has one (StackContext.gateway).
Evaluation of the routers and every cited fact: docs/gateway.md.
"""

from __future__ import annotations

import pulumi
import pulumi_random

from components.base import SlmComponent
from components.context import StackContext
from components.gateway.args import ROUTER_POLICIES, GatewayArgs, GatewayBackend, GatewayCanary, GatewayClient, GatewayIngress
from components.gateway.constants import PROXY_PORT, TYPE, VERIFY_CLIENT
from components.gateway.k8s import build_gateway, canary_port_name
from components.gateway.monitoring import gateway_contribution
from components.lifecycle.verification import Endpoint
from components.gateway.named_clients import client_keys
from components.observability import MonitoringContribution

__all__ = ["ModelGateway", "GatewayArgs", "GatewayBackend", "GatewayCanary", "GatewayClient", "GatewayIngress", "ROUTER_POLICIES"]


class ModelGateway(SlmComponent):
    """vllm-router behind an authenticating nginx + njs proxy; see the module docstring."""

    TYPE = TYPE

    base_url: pulumi.Output[str]
    service_name: pulumi.Output[str]
    client_secret_names: pulumi.Output[dict[str, str]]
    client_keys: pulumi.Output[dict[str, str]]
    monitoring: MonitoringContribution
    endpoint: Endpoint
    """What the vLLM services' smoke and benchmark Jobs call: this gateway, with the verification client's key."""

    def __init__(
        self,
        name: str,
        args: GatewayArgs,
        ctx: StackContext,
        *,
        models: list[str],
        configured_keys: pulumi.Input[str] | None = None,
        verify_concurrency: int = 4,
        canaries: list[GatewayCanary] | None = None,
        backends: list[GatewayBackend] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``configured_keys``: the secret config value ``clientKeys`` (JSON text of client -> key or keys,
        first = current; :mod:`components.gateway.keys`). Every client also gets a generated key, the one it
        uses when the config names none: the set of resources never depends on a secret's contents.
        ``canaries``: the vLLM services with a canary revision and the percentage (0-100) of their requests it
        serves (one more router each; docs/lifecycle.md, "Canary").
        ``verify_concurrency``: requests in flight the verification client ``slm-verify`` may send per gateway
        replica (the smoke Jobs send one; a benchmark Job its service's sized concurrency).
        ``backends``: the vLLM services and the names each serves (with cluster.inferenceGateway, an InferencePool
        each)."""
        super().__init__(name, opts=opts)
        child = pulumi.ResourceOptions(parent=self)
        clients = args.effective_clients(models, verify_concurrency)
        keys = client_keys(name, [c.name for c in clients], configured_keys, child)
        workload = build_gateway(name, args, ctx, models=models, client_keys=keys, verify_concurrency=verify_concurrency,
                                 canaries=canaries, backends=backends, opts=child)
        self.service_name = pulumi.Output.from_input(workload.service_name)
        self.base_url = pulumi.Output.from_input(
            f"https://{args.ingress.host}/v1" if args.ingress
            else f"http://{workload.service_name}.{ctx.namespace}.svc.cluster.local:{PROXY_PORT}/v1")
        self.client_secret_names = pulumi.Output.from_input(workload.client_secret_names)
        self.client_keys = pulumi.Output.secret(pulumi.Output.all(**keys).apply(lambda ks: {c: k[0] for c, k in ks.items()}))
        self.monitoring = gateway_contribution(name, ctx.namespace, workload.selector, canary_ports=tuple(canary_port_name(i) for i in range(len(canaries or []))),
                                               router=ctx.cluster.inference_gateway is None)
        self.endpoint = Endpoint(f"http://{workload.service_name}.{ctx.namespace}.svc.cluster.local:{PROXY_PORT}",
                                 workload.selector, PROXY_PORT, (workload.client_secret_names[VERIFY_CLIENT], "api-key"),
                                 workload.ready)
        self.register_outputs({
            "baseUrl": self.base_url,
            "serviceName": self.service_name,
            "clientSecretNames": self.client_secret_names,
            "clientKeys": self.client_keys,
        })
