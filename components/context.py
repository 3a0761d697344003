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
from components.validation import Cidr, DnsSubdomain, LabelKey, Labels

__all__ = ["ClientSelector", "ClusterCapabilities", "Peer", "PrometheusPeer", "StackContext"]


class ClusterCapabilities(ArgsModel):
    """What the target Kubernetes cluster offers; components adapt to it."""

    keda: bool = Field(default=False, description="KEDA is installed: autoscale with ScaledObjects. Default false: HPA v2 on a pods metric.")
    prometheus_operator: bool = Field(default=False, alias="prometheusOperator", description="The Prometheus Operator CRDs exist (ServiceMonitor, PrometheusRule). Default false.")
    storage_class: DnsSubdomain | None = Field(default=None, alias="storageClass", description="StorageClass for ReadWriteOnce volumes. Default None: the cluster default.")
    rwx_storage_class: DnsSubdomain | None = Field(default=None, alias="rwxStorageClass", description="StorageClass offering ReadWriteMany, for a model cache shared by replicas. Default None: no RWX class, so a vLLM service whose pods can overlap (several replicas, surge, blue-green) needs source.prefilledClaim (an RWX claim you fill).")
    gpu_node_label: LabelKey = Field(default="nvidia.com/gpu.product", alias="gpuNodeLabel", description="Node label naming the GPU product (set by NVIDIA GPU feature discovery). Default nvidia.com/gpu.product.")
    gpu_taint_key: LabelKey = Field(default="nvidia.com/gpu", alias="gpuTaintKey", description="Taint key on GPU nodes, tolerated by GPU workloads. Default nvidia.com/gpu.")
    spare_gpus: int = Field(default=0, ge=0, alias="spareGpus", description="GPUs kept free for rollouts: a vLLM service whose pods need at most this many GPUs rolls out with surge (a new pod starts before an old one stops). Default 0: no spare capacity declared, so rollouts are recreate (documented downtime) or blue-green.")
    api_server_cidrs: list[Cidr] = Field(default_factory=list, alias="apiServerCidrs", description="Addresses at which pods reach the cluster's API server (the endpoints of the `kubernetes` Service) when they are public (a managed cluster's public endpoint): excluded from download egress like private ranges, the only public addresses a benchmark Job may reach, and the only addresses the model gateway's discovery may reach (else the private ranges). Default none: the in-cluster API address is private.")
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
