"""VllmService: one model served by vLLM on Kubernetes GPUs, behind an API-key proxy.

Type token ``slm:serving:VllmService``. Inputs are :class:`VllmServiceArgs`
(``args.py``, validated and sized before anything is built) and the stack's
:class:`~components.context.StackContext`. The modules beside this one do the work:

* :mod:`components.vllm.k8s`          pod spec, Deployment, Service, NetworkPolicy, Secrets;
* :mod:`components.vllm.autoscaling`  PodDisruptionBudget, KEDA ScaledObject or HPA v2;
* :mod:`components.vllm.monitoring`   its MonitoringContribution (scrape job, alerts, panels);
* :mod:`components.vllm.flags`        the pinned version's ``vllm serve`` flags;
* :mod:`components.vllm.canary`       behind a ModelGateway, the canary revision's cache, Deployment and policy.

Children: ServiceAccount (no token), a model-cache PVC per revision (or a pre-filled claim) with its
cache-fill Job and NetworkPolicy, the lifecycle-scripts ConfigMap, HF-token Secret (when set), without a
gateway the API-key Secret and auth-proxy ConfigMap + keys Secret, Deployment, ClusterIP Service,
NetworkPolicy (egress: DNS only), the smoke Job and its NetworkPolicy (and, with ``benchmark``, the
benchmark Job, its ConfigMap, RBAC and NetworkPolicy), PodDisruptionBudget and a KEDA ScaledObject or
HPA v2 on ``vllm:num_requests_waiting``. Lifecycle: docs/lifecycle.md.
"""

from __future__ import annotations

import pulumi

from components.base import SlmComponent
from components.context import StackContext
from components.observability import MonitoringContribution
from components.vllm.args import ClientSelector, LoraAdapter, VllmServiceArgs, parse_quantity
from components.vllm.autoscaling import autoscaling
from components.lifecycle.benchmark import BenchmarkArgs
from components.lifecycle.verification import Endpoint
from components.vllm.constants import DEFAULT_DOWNLOAD_PATTERNS, GATEWAY_PORT_NAME, VLLM_EXAMPLES_DIR, VLLM_PORT
from components.vllm.canary import build_canary
from components.vllm.k8s import build_workload
from components.vllm.lifecycle import run_benchmark
from components.vllm.monitoring import vllm_contribution

__all__ = ["VllmService", "VllmServiceArgs", "LoraAdapter", "ClientSelector", "VLLM_PORT", "DEFAULT_DOWNLOAD_PATTERNS",
           "VLLM_EXAMPLES_DIR", "parse_quantity"]


class VllmService(SlmComponent):
    """vLLM on Kubernetes GPUs behind an authenticating proxy; see the module docstring."""

    TYPE = "slm:serving:VllmService"

    base_url: pulumi.Output[str]
    served_model_names: pulumi.Output[list[str]]
    api_key_secret_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    benchmark: pulumi.Output
    monitoring: MonitoringContribution

    def __init__(
        self,
        name: str,
        args: VllmServiceArgs,
        ctx: StackContext,
        *,
        api_key: pulumi.Input[str] | None = None,
        hf_token: pulumi.Input[str] | None = None,
        benchmark: BenchmarkArgs | None = None,
        gateway: Endpoint | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``gateway``: the stack's ModelGateway endpoint (required when ``ctx.gateway`` is set); the smoke and
        ``benchmark`` Jobs call the model through it, as clients do."""
        super().__init__(name, opts=opts)
        if args.spec.gated and args.source.downloads and hf_token is None:
            raise ValueError(f"{args.spec.id} is gated on Hugging Face: set the hfToken secret (pulumi config set --secret hfToken ...)")
        if args.scale_to_zero and not ctx.cluster.keda:
            raise ValueError("scaleToZero needs KEDA (cluster.keda true); an HPA cannot scale to 0")
        child = pulumi.ResourceOptions(parent=self)
        workload = build_workload(args, ctx, api_key=api_key, hf_token=hf_token, gateway_endpoint=gateway, opts=child)
        if args.canary is not None:
            build_canary(args, ctx, stable_labels=workload.labels, stable_selector=workload.selector,
                         with_token=workload.with_token, scripts=workload.scripts, opts=child)
        autoscaling(args, ctx, labels=workload.labels, selector=workload.selector,
                    deployment_name=workload.deployment_name, opts=child)

        namespace = ctx.namespace
        self.service_name = pulumi.Output.from_input(workload.service_name)
        port = 8080 if ctx.gateway is None else VLLM_PORT  # behind a gateway, clients use the gateway's URL
        self.base_url = pulumi.Output.from_input(f"http://{workload.service_name}.{namespace}.svc.cluster.local:{port}/v1")
        self.served_model_names = pulumi.Output.from_input([args.served_name] + [a.name for a in args.lora_adapters])
        self.api_key_secret_name = pulumi.Output.from_input(workload.api_key_secret_name)
        # The benchmark report (measured next to predicted), read back after the benchmark Job; None when off.
        self.benchmark = pulumi.Output.from_input(None)
        if benchmark is not None:
            self.benchmark = run_benchmark(args, ctx, workload, benchmark, opts=child)
        self.monitoring = _monitoring(args, namespace, workload.selector, "metrics" if ctx.gateway is None else GATEWAY_PORT_NAME)
        self.register_outputs({
            "baseUrl": self.base_url,
            "servedModelNames": self.served_model_names,
            "apiKeySecretName": self.api_key_secret_name,
            "serviceName": self.service_name,
            "benchmark": self.benchmark,
        })


def _monitoring(args: VllmServiceArgs, namespace: str, selector: dict[str, str], port_name: str = "metrics") -> MonitoringContribution:
    names = [args.served_name] + [a.name for a in args.lora_adapters]
    # Scaled to zero, "no target up" is the idle state, not an outage: leave that alert out.
    min_replicas = 0 if args.scale_to_zero else args.replicas
    return vllm_contribution(args.name, namespace, selector, port_name, names, min_replicas=min_replicas)
