"""Kubernetes target: Ollama Deployment + PVC + blocking pull Job, Open WebUI, ClusterIP Services, NetworkPolicies.

* Ollama: one replica with ``strategy: Recreate`` (the model PVC is ReadWriteOnce, so two pods must never
  overlap), non-root 10001, read-only root, HOME and /tmp on emptyDirs, models on the PVC.
* The pull step is a Job (backoffLimit 2) that runs ``ollama pull`` / ``ollama create`` against the Service;
  pulumi-kubernetes waits for Job completion and fails the update when it fails, so nothing reports ready
  with a missing model. Probes never kill a pull: the server is not the one downloading synchronously.
* ``authProxy``: the same nginx API-key proxy as everywhere (:func:`components.auth_proxy.auth_proxy_sidecar`,
  one config generator) runs beside Ollama in its pod; the Service gains the port ``http-auth`` and
  ``baseUrl`` points at it. ``clients`` are then admitted on ``http-auth`` only, never on Ollama's own port.
* NetworkPolicies: Ollama's own port admits only Open WebUI, the pull Job and the monitoring ``probers``
  (the blackbox exporter, possibly in another namespace; a NetworkPolicy filters ports, not paths, so the
  prober is admitted on the API port it probes ``/api/version`` on), plus ``clients`` without the proxy;
  egress HTTPS to public addresses only (registry downloads, :func:`components.hardening.egress_public`) +
  DNS. Open WebUI admits only ``webui.clients`` (default none: ``kubectl port-forward`` only) on 8080 and
  may reach Ollama and DNS.
"""

from __future__ import annotations

import shlex

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import (
    ContainerArgs,
    ContainerPortArgs,
    EnvVarArgs,
    PersistentVolumeClaimVolumeSourceArgs,
    PodTemplateSpecArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components.auth_proxy import PROXY_PORT, PROXY_PORT_NAME, auth_proxy_sidecar
from components.context import StackContext
from components.hardening import (
    container_security_context,
    dns_egress,
    egress_public,
    egress_to_pods,
    http_probe,
    ingress_from_pods,
    resources,
    restricted_pod_spec,
    scratch_volume,
    secret_file_volume,
)
from components.labels import selector_labels, standard_labels
from components.ollama.args import OllamaStackArgs
from components.ollama.constants import OLLAMA_PORT
from components.ollama.monitoring import monitoring_for
from components.ollama.outputs import TargetOutputs
from components.ollama.webui import (
    WEBUI_DATA_DIR,
    WEBUI_KEY_PATH,
    WEBUI_PORT,
    webui_environment,
)
from components.versions import image

__all__ = ["build_kubernetes"]


def _meta(name: str, namespace: str, labels: dict[str, str]) -> ObjectMetaArgs:
    return ObjectMetaArgs(name=name, namespace=namespace, labels=labels)


def _env(values: dict[str, str]) -> list[EnvVarArgs]:
    return [EnvVarArgs(name=k, value=v) for k, v in values.items()]


def build_kubernetes(name: str, args: OllamaStackArgs, ctx: StackContext, *, webui_secret_key, api_key,
                     opts: pulumi.ResourceOptions) -> TargetOutputs:
    namespace, part_of = ctx.namespace, ctx.part_of
    mem = args.memory()
    ref = image("ollama")
    labels = standard_labels("ollama", name, "model-server", ref.tag, part_of)
    selector = selector_labels("ollama", name)
    pull_labels = standard_labels("ollama-pull", name, "model-pull", ref.tag, part_of)
    webui_selector = selector_labels("open-webui", name)
    service = f"{name}"
    url = f"http://{service}.{namespace}.svc.cluster.local:{OLLAMA_PORT}"

    modelfiles = args.modelfile_texts()
    config_map = k8s.core.v1.ConfigMap(
        f"{name}-modelfiles", metadata=_meta(f"{name}-modelfiles", namespace, labels),
        data={f"{v}.Modelfile": text for v, text in modelfiles.items()}, opts=opts)
    pvc = k8s.core.v1.PersistentVolumeClaim(
        f"{name}-models", metadata=_meta(f"{name}-models", namespace, labels),
        spec={"access_modes": ["ReadWriteOnce"], "storage_class_name": ctx.storage_class,
              "resources": {"requests": {"storage": args.storage_size}}}, opts=opts)

    home_volume, home_mount = scratch_volume("home", "/home/ollama", size_limit="256Mi")
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp", size_limit="1Gi")
    extended = {"nvidia.com/gpu": "1"} if args.gpu == "all" else None
    server_env = {**args.server.environment(), "OLLAMA_HOST": f"0.0.0.0:{OLLAMA_PORT}",
                  "OLLAMA_MODELS": "/models", "HOME": "/home/ollama"}
    container = ContainerArgs(
        name="ollama",
        image=ref.ref,
        image_pull_policy="IfNotPresent",
        args=["serve"],
        env=_env(server_env),
        ports=[ContainerPortArgs(name="http", container_port=OLLAMA_PORT, protocol="TCP")],
        volume_mounts=[VolumeMountArgs(name="models", mount_path="/models"), home_mount, tmp_mount],
        resources=resources(mem.cpu_request, mem.request, cpu_limit=mem.cpu_request, memory_limit=mem.limit,
                            extended=extended),
        security_context=container_security_context(),
        startup_probe=http_probe("/api/version", "http", period_seconds=5, failure_threshold=60),
        liveness_probe=http_probe("/", "http", period_seconds=15),
        readiness_probe=http_probe("/api/version", "http", period_seconds=10),
    )
    containers, volumes = [container], []
    if args.auth_proxy:
        proxy = auth_proxy_sidecar(name, namespace=namespace, labels=labels, upstream_port=OLLAMA_PORT, api_key=api_key,
                                   health_path="/api/version", metrics_path=None, opts=opts)
        containers.append(proxy.container)
        volumes = proxy.volumes
    tolerations = [{"key": ctx.gpu_taint_key, "operator": "Exists", "effect": "NoSchedule"}] if extended else None
    deployment = k8s.apps.v1.Deployment(
        name,
        metadata=_meta(name, namespace, labels),
        spec={
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": LabelSelectorArgs(match_labels=selector),
            "template": PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=labels),
                spec=restricted_pod_spec(
                    containers=containers,
                    tolerations=tolerations,
                    volumes=[VolumeArgs(name="models", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(
                        claim_name=f"{name}-models")), home_volume, tmp_volume, *volumes],
                ),
            ),
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[pvc])),
    )
    ports = [{"name": "http", "port": OLLAMA_PORT, "target_port": "http", "protocol": "TCP"}]
    if args.auth_proxy:
        ports.append({"name": PROXY_PORT_NAME, "port": PROXY_PORT, "target_port": PROXY_PORT_NAME, "protocol": "TCP"})
    svc = k8s.core.v1.Service(
        service, metadata=_meta(service, namespace, labels),
        spec={"type": "ClusterIP", "selector": selector, "ports": ports}, opts=opts)
    # Ollama's own port: the stack's web UI, its pull Job and the probers; clients only without the proxy.
    in_stack = [webui_selector, selector_labels("ollama-pull", name)]
    ingress = [ingress_from_pods(in_stack if args.auth_proxy else [*in_stack, *args.clients], ["http"]),
               *(ingress_from_pods([p.pod_labels], ["http"], namespace_labels=p.namespace_labels) for p in ctx.probers)]
    if args.auth_proxy and args.clients:
        ingress.append(ingress_from_pods(args.clients, [PROXY_PORT_NAME]))
    k8s.networking.v1.NetworkPolicy(
        name, metadata=_meta(name, namespace, labels),
        spec={"pod_selector": LabelSelectorArgs(match_labels=selector), "policy_types": ["Ingress", "Egress"],
              "ingress": ingress, "egress": [dns_egress(), egress_public()]},
        opts=opts)

    # Blocking pull step: a Job against the Service; Pulumi waits for it and fails the update if it fails.
    steps = [f"ollama pull {shlex.quote(r.tag)}" for r in args.resolved()]
    steps += [f"ollama create {shlex.quote(v)} -f /modelfiles/{v}.Modelfile" for v in modelfiles]
    job_tmp, job_tmp_mount = scratch_volume("tmp", "/tmp", size_limit="64Mi")
    job = k8s.batch.v1.Job(
        f"{name}-pull",
        metadata=_meta(f"{name}-pull", namespace, pull_labels),
        spec={
            "backoff_limit": 2,
            "active_deadline_seconds": 3600,
            "template": PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=pull_labels),
                spec=restricted_pod_spec(
                    restart_policy="Never",
                    containers=[ContainerArgs(
                        name="pull",
                        image=ref.ref,
                        image_pull_policy="IfNotPresent",
                        command=["/bin/sh", "-c", "set -eu; " + "; ".join(steps)],
                        env=_env({"OLLAMA_HOST": url, "HOME": "/tmp"}),
                        volume_mounts=[VolumeMountArgs(name="modelfiles", mount_path="/modelfiles", read_only=True),
                                       job_tmp_mount],
                        resources=resources("100m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
                        security_context=container_security_context(),
                    )],
                    volumes=[VolumeArgs(name="modelfiles", config_map={"name": f"{name}-modelfiles", "default_mode": 0o444}),
                             job_tmp],
                ),
            ),
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[deployment, svc, config_map])),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-pull", metadata=_meta(f"{name}-pull", namespace, pull_labels),
        spec={"pod_selector": LabelSelectorArgs(match_labels=selector_labels("ollama-pull", name)),
              "policy_types": ["Ingress", "Egress"], "ingress": [],
              "egress": [dns_egress(), egress_to_pods([selector], ["http"])]},
        opts=opts)
    served = job.metadata.apply(lambda _m: args.served_models())

    webui_url = None
    if args.webui.enabled:
        webui_url = _webui(name, args, webui_secret_key, namespace, part_of, selector, url, opts)
    api_url = f"http://{service}.{namespace}.svc.cluster.local:{PROXY_PORT}" if args.auth_proxy else url
    return TargetOutputs(f"{api_url}/v1", webui_url, served, monitoring_for(name, f"{name}-ollama", f"{url}/api/version"))


def _webui(name, args, secret_key, namespace, part_of, ollama_selector, ollama_url, opts) -> str:
    s = args.webui
    ref = image("open-webui")
    wname = f"{name}-webui"
    labels = standard_labels("open-webui", name, "chat-ui", ref.tag, part_of)
    selector = selector_labels("open-webui", name)
    secret = k8s.core.v1.Secret(
        f"{wname}-secret-key", metadata=_meta(f"{wname}-secret-key", namespace, labels), type="Opaque",
        string_data={"webui_secret_key": pulumi.Output.secret(secret_key)}, opts=opts)
    pvc = k8s.core.v1.PersistentVolumeClaim(
        f"{wname}-data", metadata=_meta(f"{wname}-data", namespace, labels),
        spec={"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": s.storage_size}}}, opts=opts)
    key_volume, _ = secret_file_volume("secret-key", f"{wname}-secret-key", "/run/secrets/open-webui")
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp", size_limit="1Gi")
    home_volume, home_mount = scratch_volume("home", "/home/webui", size_limit="512Mi")
    memory = f"{s.memory_mb}Mi"
    container = ContainerArgs(
        name="open-webui",
        image=ref.ref,
        image_pull_policy="IfNotPresent",
        env=_env({**webui_environment(s, ollama_url), "HOME": "/home/webui"}),
        ports=[ContainerPortArgs(name="http", container_port=WEBUI_PORT, protocol="TCP")],
        volume_mounts=[
            VolumeMountArgs(name="data", mount_path=WEBUI_DATA_DIR),
            VolumeMountArgs(name="secret-key", mount_path=WEBUI_KEY_PATH, sub_path="webui_secret_key", read_only=True),
            tmp_mount, home_mount,
        ],
        resources=resources(s.cpu, memory, cpu_limit=s.cpu, memory_limit=memory),
        security_context=container_security_context(),
        startup_probe=http_probe("/health", "http", period_seconds=10, failure_threshold=30),
        liveness_probe=http_probe("/health", "http", period_seconds=20),
        readiness_probe=http_probe("/health", "http", period_seconds=10),
    )
    k8s.apps.v1.Deployment(
        wname, metadata=_meta(wname, namespace, labels),
        spec={
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": LabelSelectorArgs(match_labels=selector),
            "template": PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=labels),
                spec=restricted_pod_spec(
                    containers=[container],
                    volumes=[VolumeArgs(name="data", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(
                        claim_name=f"{wname}-data")), key_volume, tmp_volume, home_volume],
                ),
            ),
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[pvc, secret])),
    )
    k8s.core.v1.Service(
        wname, metadata=_meta(wname, namespace, labels),
        spec={"type": "ClusterIP", "selector": selector,
              "ports": [{"name": "http", "port": WEBUI_PORT, "target_port": "http", "protocol": "TCP"}]},
        opts=opts)
    k8s.networking.v1.NetworkPolicy(
        wname, metadata=_meta(wname, namespace, labels),
        spec={"pod_selector": LabelSelectorArgs(match_labels=selector), "policy_types": ["Ingress", "Egress"],
              # Only the pods the stack names (webui.clients, e.g. its ingress controller); none by default.
              "ingress": [ingress_from_pods([c.pod_labels], ["http"], namespace_labels=c.namespace_labels)
                          for c in s.clients],
              "egress": [dns_egress(), egress_to_pods([ollama_selector], ["http"])]},
        opts=opts)
    return f"http://{wname}.{namespace}.svc.cluster.local:{WEBUI_PORT}"
