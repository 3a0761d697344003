"""StackContext: what every component of a stack shares, passed to each the same way.

Config flows one way: stack file -> ``StackConfig`` (stacks/schema.py) -> a
:class:`StackContext` plus each component's Args -> components. A component reads
the namespace, the part-of label, the cluster's capabilities and its monitoring
peers from here, never from the stack config (which sits above it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from components.base import ArgsModel
from components.validation import Cidr, DnsLabel, DnsSubdomain, HostAndPort, LabelKey, Labels

__all__ = ["ClientSelector", "ClusterCapabilities", "GatewayDataPlane", "InferenceGateway", "Peer", "PrometheusPeer",
           "StackContext"]


class GatewayDataPlane(ArgsModel):
    """The pods of the cluster's Gateway implementation that forward requests to the model servers (Envoy, agentgateway
    ...): the model servers' NetworkPolicy admits exactly these (docs/gateway.md, "GAIE")."""

    pod_labels: Labels = Field(alias="podLabels", min_length=1, description="Labels of the Gateway's data-plane pods (an implementation that follows Gateway API GEP-1762 labels them gateway.networking.k8s.io/gateway-name: <gateway name>). Required, at least one: the model servers admit these pods only.")
    namespace_labels: Labels | None = Field(default=None, alias="namespaceLabels", description="Labels of the data-plane pods' namespace. Default None: the Gateway's namespace, by its kubernetes.io/metadata.name label (GEP-1762 deploys the data plane beside its Gateway).")


class InferenceGateway(ArgsModel):
    """A Gateway API Gateway with the Inference Extension (GAIE v1.0.0: the InferencePool CRD and a conformant Gateway
    implementation): the model gateway routes through it instead of its own vllm-router (docs/gateway.md, "GAIE")."""

    name: DnsSubdomain = Field(description="Name of the Gateway (gateway.networking.k8s.io/v1) the HTTPRoute attaches to (its parentRef). Required.")
    namespace: DnsLabel = Field(description="Namespace of that Gateway. Required. A Gateway in another namespace than the stack must allow the stack's routes (listeners[].allowedRoutes.namespaces).")
    address: HostAndPort = Field(description="host:port at which the gateway proxy reaches the Gateway's HTTP listener from inside the cluster (its Service, e.g. inference-gateway-istio.gateway.svc.cluster.local:80); plain HTTP. The port must be the data-plane pods' own listener port too: the proxy's egress NetworkPolicy admits those pods on it. Required.")
    data_plane: GatewayDataPlane = Field(alias="dataPlane", description="The Gateway's data-plane pods (podLabels, namespaceLabels): the only pods besides the endpoint pickers and Prometheus that the model servers admit. Required.")

    @property
    def port(self) -> int:
        """The port of ``address``."""
        return int(self.address.rsplit(":", 1)[1])

    @property
    def data_plane_namespace_labels(self) -> dict[str, str]:
        """The data plane's namespace labels: as declared, else the Gateway's namespace by name."""
        return dict(self.data_plane.namespace_labels or {"kubernetes.io/metadata.name": self.namespace})


class ClusterCapabilities(ArgsModel):
    """What the target Kubernetes cluster offers; components adapt to it."""

    keda: bool = Field(default=False, description="KEDA is installed: autoscale with ScaledObjects. Default false: HPA v2 on a pods metric.")
    prometheus_operator: bool = Field(default=False, alias="prometheusOperator", description="The Prometheus Operator CRDs exist (ServiceMonitor, PrometheusRule). Default false.")
    storage_class: DnsSubdomain | None = Field(default=None, alias="storageClass", description="StorageClass for ReadWriteOnce volumes. Default None: the cluster default.")
    rwx_storage_class: DnsSubdomain | None = Field(default=None, alias="rwxStorageClass", description="StorageClass offering ReadWriteMany, for a model cache shared by replicas. Default None: no RWX class, so a vLLM service whose pods can overlap (several replicas, surge, blue-green) needs source.prefilledClaim (an RWX claim you fill).")
    gpu_node_label: LabelKey = Field(default="nvidia.com/gpu.product", alias="gpuNodeLabel", description="Node label naming the GPU product (set by NVIDIA GPU feature discovery). Default nvidia.com/gpu.product.")
    gpu_taint_key: LabelKey = Field(default="nvidia.com/gpu", alias="gpuTaintKey", description="Taint key on GPU nodes, tolerated by GPU workloads. Default nvidia.com/gpu.")
    spare_gpus: int = Field(default=0, ge=0, alias="spareGpus", description="GPUs kept free for rollouts: a vLLM service whose pods need at most this many GPUs rolls out with surge (a new pod starts before an old one stops). Default 0: no spare capacity declared, so rollouts are recreate (documented downtime) or blue-green.")
    api_server_cidrs: list[Cidr] = Field(default_factory=list, alias="apiServerCidrs", description="Addresses at which pods reach the cluster's API server (the endpoints of the `kubernetes` Service) when they are public (a managed cluster's public endpoint): excluded from download egress like private ranges; when set, the only addresses the pods that call the API server may reach (a benchmark Job writing its result, Prometheus's and the model gateway's discovery), else the private ranges. Default none: the in-cluster API address is private.")
    inference_gateway: InferenceGateway | None = Field(default=None, alias="inferenceGateway", description="The cluster runs a Gateway with the Gateway API Inference Extension (GAIE v1.0.0): the model gateway forwards to it (one HTTPRoute on that Gateway, one InferencePool and endpoint picker per vLLM service) instead of running vllm-router; keys, allow-lists, limits and per-client metrics stay in the gateway's proxy. Needs the gateway on (gateway.enabled). Default None: the gateway runs its own vllm-router.")
    kube_context: str | None = Field(default=None, alias="kubeContext", description="kubeconfig context for the real engine. Default None: the current context.")


class ClientSelector(ArgsModel):
    """Pods allowed to call the API (NetworkPolicy ingress to the auth proxy's port)."""

    pod_labels: Labels = Field(alias="podLabels", min_length=1, description="Labels of the client pods. Required, at least one.")
    namespace_labels: Labels | None = Field(default=None, alias="namespaceLabels", description="Labels of the clients' namespace. Default None: the service's own namespace.")


@dataclass(frozen=True)
class Peer:
    """Pods a NetworkPolicy admits: their labels, and their namespace's labels (None: the stack namespace)."""

    pod_labels: dict[str, str]
    namespace_labels: dict[str, str] | None = None


@dataclass(frozen=True)
class PrometheusPeer:
    """The stack's Prometheus: where it answers queries (KEDA triggers) and the labels of its namespace."""

    url: str
    namespace_labels: dict[str, str] | None = None


@dataclass(frozen=True)
class StackContext:
    """The stack-wide settings every component receives (see the module docstring)."""

    namespace: str = "slm"
    """Kubernetes namespace of the stack's workloads."""
    part_of: str = "slm-deploy"
    """Value of ``app.kubernetes.io/part-of`` on every object."""
    cluster: ClusterCapabilities = field(default_factory=ClusterCapabilities)
    """What the cluster offers (KEDA, Prometheus Operator, storage classes, GPU labels and taints)."""
    prometheus: PrometheusPeer | None = None
    """The stack's Prometheus (None: the stack has no monitoring)."""
    probers: tuple[Peer, ...] = ()
    """Pods that send blackbox probes to probed servers (the monitoring stack's exporter)."""
    gateway: Peer | None = None
    """The stack's ModelGateway pods. When set, vLLM servers run without their own auth proxy and admit
    traffic only from these pods and Prometheus (NetworkPolicy); the gateway authenticates every client."""

    @property
    def storage_class(self) -> str | None:
        return self.cluster.storage_class

    @property
    def gpu_taint_key(self) -> str:
        return self.cluster.gpu_taint_key
