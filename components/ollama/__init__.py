"""OllamaStack: Ollama + Open WebUI + blocking model pulls + Modelfile variants, on Docker or Kubernetes.

Type token ``slm:serving:OllamaStack``. Inputs are :class:`OllamaStackArgs` (``args.py``) and the
stack's :class:`~components.context.StackContext`. The target modules do the work:

* :mod:`components.ollama.docker`  pulumi-docker (one host; the compose export mirrors it);
* :mod:`components.ollama.k8s`     pulumi-kubernetes (Deployment + PVC + pull Job).

Outputs: ``base_url`` (OpenAI-compatible, ``.../v1``), ``webui_url``, ``models`` (served names), and with
``apiClients`` ``client_keys`` (client -> current key, secret).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pulumi

from components.base import SlmComponent
from components.context import StackContext
from components.gateway.named_clients import client_keys
from components.observability import MonitoringContribution
from components.ollama.args import OllamaMemory, OllamaStackArgs
from components.ollama.constants import TYPE
from components.ollama.docker_files import docker_generated_files
from components.optouts import opt_out_records

__all__ = ["OllamaStack", "OllamaStackArgs", "OllamaMemory", "TYPE"]


class OllamaStack(SlmComponent):
    """Ollama + Open WebUI on one Docker host or on Kubernetes.

    On Kubernetes, the context's ``probers`` (the monitoring stack's blackbox exporter) are admitted by
    Ollama's NetworkPolicy on the API port so the probe of ``/api/version`` gets through.
    """

    TYPE = TYPE

    base_url: pulumi.Output[str]
    webui_url: pulumi.Output[str | None]
    models: pulumi.Output[list[str]]
    client_keys: pulumi.Output[dict[str, str]] | None
    monitoring: MonitoringContribution
    client_metrics: MonitoringContribution | None

    def __init__(
        self,
        name: str,
        args: OllamaStackArgs,
        ctx: StackContext,
        *,
        target: Literal["docker", "kubernetes"],
        webui_secret_key: pulumi.Input[str],
        api_key: pulumi.Input[str] | None = None,
        configured_keys: pulumi.Input[str] | None = None,
        context_root: Path | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``context_root``: where the renderer writes this stack's generated files (``build/<stack>/files``; the
        program passes it). On Docker with ``authProxy`` the proxy's nginx.conf is a generated file (rendered and
        gated like every other) and the container uploads it from ``<context_root>/<name>/nginx.conf``: public
        text never shares an upload list with the API key (a secret input is redacted whole offline).
        ``configured_keys``: the secret config value ``clientKeys`` (JSON text, client -> key or keys); with
        ``apiClients`` each client uses its keys from there, else a generated one
        (:func:`components.gateway.named_clients.client_keys`)."""
        args.check_target(target)
        args.check_user(target)
        files = docker_generated_files(args) if target == "docker" else None
        super().__init__(name, opt_outs=opt_out_records(TYPE, name, args.opt_outs), generated_files=files, opts=opts)
        child = pulumi.ResourceOptions(parent=self)
        clients = [c.name for c in args.proxy_clients(target)] if args.auth_proxy else []
        keys = client_keys(name, clients, configured_keys, child) if clients else None
        # Each target module imports its own provider SDK: import only the one this stack uses.
        if target == "docker":
            from components.ollama.docker import build_docker

            root = context_root or Path(__file__).resolve().parents[2] / "build" / pulumi.get_stack() / "files"
            out = build_docker(name, args, ctx, webui_secret_key=webui_secret_key, api_key=api_key,
                               client_keys=keys, files_dir=root / name, opts=child)
        else:
            from components.ollama.k8s import build_kubernetes

            out = build_kubernetes(name, args, ctx, webui_secret_key=webui_secret_key, api_key=api_key,
                                   client_keys=keys, opts=child)
        self.base_url = pulumi.Output.from_input(out.base_url)
        self.webui_url = pulumi.Output.from_input(out.webui_url)
        self.models = out.models
        self.monitoring = out.monitoring
        self.client_metrics = out.client_metrics
        # The current key of each named client (a secret output): what `pulumi stack output --show-secrets` hands out.
        self.client_keys = pulumi.Output.secret(pulumi.Output.all(**{
            c: k.apply(lambda ks: ks[0]) for c, k in keys.items() if c in {a.name for a in args.api_clients}})) if keys else None
        self.register_outputs({"baseUrl": self.base_url, "webuiUrl": self.webui_url, "models": self.models,
                               **({"clientKeys": self.client_keys} if keys else {})})
