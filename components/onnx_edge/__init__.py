"""OnnxEdgeNode: an ONNX Runtime GenAI model server on edge hardware (INT4 models, CPU first).

Two targets:

* ``docker``: one edge box through pulumi-docker (``docker.host: ssh://user@box``). The image is
  built *on the box's daemon* from a generated Dockerfile + our stdlib server
  (components/onnx_edge/server). A one-shot container downloads the pinned ONNX variant into a
  named volume; the server container starts after it exited successfully.
* ``kubernetes``: k3s edge nodes. The image comes from a registry by digest (built by the team's CI
  from the same generated Dockerfile: build/<stack>/files/<name>/Dockerfile); an initContainer
  downloads the model into a PVC; nodes are selected by the project's own label and taint (edge
  nodes cannot give themselves ``node-role.kubernetes.io/*`` labels).

The server authenticates every request itself (Bearer key from a mounted file), and only ``/health`` and
``/ready`` are open. With ``apiClients`` an nginx + njs proxy (the model gateway's nginx config and gateway.js,
:mod:`components.gateway.named_clients`) sits in front of it, as in front of Ollama: per-client keys, model
allow-lists and limits; the proxy presents the server's own key upstream (``upstream.key``), never the client's.

Constructing the component writes nothing. The docker target's image build context (Dockerfile,
server.py, requirements.txt) is a set of ``generatedFiles`` like every other component's: the renderer
writes them to ``build/<stack>/files/<name>/``, where the gate scans them, and ``docker.Image`` builds
from exactly that directory (``context_root``). Under the real engine the program gates itself before
registering anything, so the rendered, gated copy is on disk when the image is built.
"""

from __future__ import annotations

import re
from pathlib import Path

import pulumi

from components.base import SlmComponent
from components.context import StackContext
from components.gateway.named_clients import client_keys
from components.auth_proxy import CLIENT_METRICS_PORT_NAME
from components.gateway.monitoring import proxy_client_contribution
from components.labels import selector_labels, standard_labels
from components.observability import MonitoringContribution
from components.onnx_edge.args import OnnxEdgeNodeArgs, image_context_files
from components.onnx_edge.proxy import proxy_generated_files
from components.onnx_edge.constants import API_KEY_FILE, EDGE_POOL_LABEL, EDGE_TAINT_KEY, SERVER_PORT, TYPE
from components.optouts import opt_out_records
from components.probe_monitoring import probe_contribution

_PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

__all__ = ["OnnxEdgeNode", "OnnxEdgeNodeArgs", "EDGE_POOL_LABEL", "EDGE_TAINT_KEY", "SERVER_PORT", "image_context_files"]


class OnnxEdgeNode(SlmComponent):
    """ONNX Runtime GenAI server (OpenAI-compatible, self-authenticating) on an edge box or k3s edge nodes."""

    TYPE = TYPE

    endpoint: pulumi.Output[str]
    client_keys: pulumi.Output[dict[str, str]] | None
    monitoring: MonitoringContribution
    client_metrics: MonitoringContribution | None

    def __init__(
        self,
        resource_name: str,
        args: OnnxEdgeNodeArgs,
        ctx: StackContext,
        *,
        api_key: pulumi.Input[str],
        hf_token: pulumi.Input[str] | None = None,
        configured_keys: pulumi.Input[str] | None = None,
        context_root: Path | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``context_root``: where the renderer writes this stack's generated files (``build/<stack>/files``;
        the program passes it); the image builds from ``<context_root>/<resource_name>/``. On the kubernetes target, the context's ``probers`` (the monitoring stack's blackbox exporter) are
        admitted by the NetworkPolicy on the server port they probe /ready on. ``configured_keys``: the secret
        config value ``clientKeys`` (JSON text, client -> key or keys); with ``apiClients`` each client uses its
        keys from there, else a generated one (:func:`components.gateway.named_clients.client_keys`)."""
        files = image_context_files(args)
        built = args.target == "docker" and args.image is None
        super().__init__(resource_name, opt_outs=opt_out_records(TYPE, args.name, []),
                         generated_files={**files, **proxy_generated_files(args)}, opts=opts)
        namespace = ctx.namespace
        self.args = args
        self.plan = args.plan()
        self.version = f"{args.model}-{args.variant}"
        self.labels = standard_labels("onnx-edge", args.name, "model-server", _label_value(self.version), ctx.part_of)
        child = pulumi.ResourceOptions(parent=self)
        clients = [c.name for c in args.proxy_clients()]
        keys = client_keys(args.name, clients, configured_keys, child) if clients else None
        # Each target module imports its own provider SDK: import only the one this node uses.
        if args.target == "docker":
            from components.onnx_edge.docker import docker_node

            root = context_root or _PROJECT_ROOT / "build" / pulumi.get_stack() / "files"
            context_dir = root / resource_name if built else None  # the renderer's files/<component>/
            node = docker_node(args, labels=self.labels, plan=self.plan, context_dir=context_dir, files=files,
                               api_key=api_key, hf_token=hf_token, client_keys=keys,
                               files_dir=root / resource_name, child=child)
            self.endpoint, self.containers = node.endpoint, node.containers
        else:
            from components.onnx_edge.k8s import edge_workload

            self.endpoint = edge_workload(args, ctx, labels=self.labels, plan=self.plan, api_key=api_key,
                                          hf_token=hf_token, client_keys=keys, opts=child)
        self.monitoring = probe_contribution(
            args.name, "onnx", job=f"onnx-edge-{args.name}",
            url=self._probe_url(args, namespace),
            namespace=namespace if args.target == "kubernetes" else None,
            pod_regex=f"{args.name}-.*" if args.target == "kubernetes" else None,
        )
        # With named clients on Kubernetes: the proxy's exporter (per-client request/error/latency metrics).
        self.client_metrics = proxy_client_contribution(
            f"{args.name}-clients", f"onnx-edge-{args.name}-proxy", namespace, selector_labels("onnx-edge", args.name),
            port_name=CLIENT_METRICS_PORT_NAME, proxy=f"the edge proxy of {args.name}",
        ) if keys and args.target == "kubernetes" else None
        # The current key of each named client (a secret output): what `pulumi stack output --show-secrets` hands out.
        self.client_keys = pulumi.Output.secret(pulumi.Output.all(**{
            c.name: keys[c.name].apply(lambda ks: ks[0]) for c in args.api_clients})) if keys else None
        self.register_outputs({
            "endpoint": self.endpoint,
            "model": args.model,
            "maxLength": args.max_length,
            "memoryLimit": self.plan.memory_limit,
            "apiKeyFile": API_KEY_FILE,
            **({"clientKeys": self.client_keys} if keys else {}),
        })

    @staticmethod
    def _probe_url(args: OnnxEdgeNodeArgs, namespace: str) -> str:
        if args.target == "kubernetes":
            return f"http://{args.name}.{namespace}.svc:{SERVER_PORT}/ready"
        host = "127.0.0.1" if args.publish_address in ("0.0.0.0", "::") else args.publish_address  # noqa: S104
        return f"http://{host}:{args.port}/ready"

def _label_value(value: str) -> str:
    """A label value (<= 63 characters, alphanumeric ends)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:63].strip("-_.")

