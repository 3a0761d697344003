"""Kubernetes target: Ollama Deployment + models PVC + cache-fill Job, Open WebUI, ClusterIP Services,
NetworkPolicies, smoke Job (docs/lifecycle.md).

* Ollama: one replica with ``strategy: Recreate`` (the model PVC is ReadWriteOnce, so two pods must never
  overlap), non-root 10001, read-only root, HOME and /tmp on emptyDirs, models on the PVC mounted read-only.
* The cache-fill Job runs its own ``ollama serve`` on 127.0.0.1 against the PVC, ``ollama show TAG || ollama
  pull TAG`` per model (a present model is never pulled again) and ``ollama create`` per variant; the
  Deployment depends on it, and pulumi-kubernetes waits for its completion. It is the only pod with internet
  egress (DNS + 443 to public addresses, :func:`components.hardening.egress_public`).
* ``authProxy``: the same nginx API-key proxy as everywhere (:func:`components.auth_proxy.auth_proxy_sidecar`,
  one config generator) runs beside Ollama in its pod; the Service gains the port ``http-auth`` and
  ``baseUrl`` points at it. ``clients`` and the smoke Job are then admitted on ``http-auth`` only, never on
  Ollama's own port; the smoke Job reads the key from the Secret ``<name>-api-key`` mounted as a file.
  With ``apiClients`` the sidecar is :func:`components.auth_proxy.named_clients_sidecar` (the model gateway's
  nginx config and gateway.js, keys per client as SHA-256 hashes); the smoke Job is then the client
  ``slm-verify`` and ``<name>-api-key`` holds that client's current key.
* NetworkPolicies: Ollama's own port admits only Open WebUI and the monitoring ``probers`` (the blackbox
  exporter, possibly in another namespace; a NetworkPolicy filters ports, not paths, so the prober is
  admitted on the API port it probes ``/api/version`` on), plus ``clients`` and the smoke Job without the
  proxy; egress DNS only (CKV_SLM_030). Open WebUI admits only ``webui.clients`` (default none: ``kubectl
  port-forward`` only) on 8080 and may reach Ollama and DNS.
"""

from __future__ import annotations

import shlex

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import (
    AffinityArgs,
    PodAffinityArgs,
    PodAffinityTermArgs,
    WeightedPodAffinityTermArgs,
    ContainerArgs,
    ContainerPortArgs,
    EnvVarArgs,
    PersistentVolumeClaimVolumeSourceArgs,
    PodTemplateSpecArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components.auth_proxy import (
    CLIENT_METRICS_PORT_NAME,
    PROXY_PORT,
    PROXY_PORT_NAME,
    auth_proxy_sidecar,
    named_clients_sidecar,
    prometheus_ingress,
)
from components.gateway.monitoring import proxy_client_contribution
from components.gateway.constants import VERIFY_CLIENT
from components.context import StackContext
from components.hardening import (
    container_security_context,
    egress_public,
    egress_to_pods,
    http_probe,
    ingress_from_pods,
    network_policy_spec,
    resources,
    restricted_pod_spec,
    scratch_volume,
    secret_file_volume,
)
from components.labels import selector_labels, standard_labels
from components.placement import taint_toleration
from components.lifecycle.cache_fill import CacheFill, FillStep, cache_claim, cache_fill_job
from components.lifecycle.verification import lifecycle_scripts, smoke_job, smoke_selector, spec_key
from components.ollama.args import OllamaStackArgs
from components.ollama.constants import OLLAMA_PORT
from components.ollama.monitoring import monitoring_for
from components.ollama.outputs import TargetOutputs
from components.ollama.webui import (
    WEBUI_DATA_DIR,
    WEBUI_SECRET_DIR,
    WEBUI_PORT,
    webui_environment,
)
from components.versions import image

__all__ = ["build_kubernetes"]


def _meta(name: str, namespace: str, labels: dict[str, str]) -> ObjectMetaArgs:
    return ObjectMetaArgs(name=name, namespace=namespace, labels=labels)


def _env(values: dict[str, str]) -> list[EnvVarArgs]:
    return [EnvVarArgs(name=k, value=v) for k, v in values.items()]


def _single_pod_deployment(name: str, namespace: str, labels: dict[str, str], selector: dict[str, str], *,
                           containers: list[ContainerArgs], volumes: list[VolumeArgs], tolerations: list | None = None,
                           depends_on: list[pulumi.Resource], opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
    """One pod under the restricted pod spec, replaced (``Recreate``) rather than rolled: its ReadWriteOnce volume
    (the Ollama store, Open WebUI's data) must never be shared by two pods. Created after ``depends_on``."""
    return k8s.apps.v1.Deployment(
        name,
        metadata=_meta(name, namespace, labels),
        spec={
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": LabelSelectorArgs(match_labels=selector),
            "template": PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=labels),
                spec=restricted_pod_spec(containers=containers, tolerations=tolerations, volumes=volumes),
            ),
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends_on)),
    )


def build_kubernetes(name: str, args: OllamaStackArgs, ctx: StackContext, *, webui_secret_key, api_key, client_keys=None,
                     opts: pulumi.ResourceOptions) -> TargetOutputs:
    namespace, part_of = ctx.namespace, ctx.part_of
    mem = args.memory()
    ref = image("ollama")
    labels = standard_labels("ollama", name, "model-server", ref.tag, part_of)
    selector = selector_labels("ollama", name)
    webui_selector = selector_labels("open-webui", name)
    service = f"{name}"
    url = f"http://{service}.{namespace}.svc.cluster.local:{OLLAMA_PORT}"

    modelfiles = args.modelfile_texts()
    config_map = k8s.core.v1.ConfigMap(
        f"{name}-modelfiles", metadata=_meta(f"{name}-modelfiles", namespace, labels),
        data={f"{v}.Modelfile": text for v, text in modelfiles.items()}, opts=opts)
    pvc = cache_claim(f"{name}-models", namespace, labels, size=args.storage_size, rwx=False,
                      storage_class=ctx.storage_class, rwx_storage_class=None, opts=opts)

    home_volume, home_mount = scratch_volume("home", "/home/ollama", size_limit="256Mi")
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp", size_limit="1Gi")
    extended = {"nvidia.com/gpu": "1"} if args.gpu == "all" else None
    # The server only reads the store the fill Job wrote: mounted read-only, and OLLAMA_NOPRUNE=1 because
    # its start-up prune (server/routes.go Serve -> PruneLayers, v0.12.3) would try to delete files there.
    server_env = {**args.server.environment(), "OLLAMA_HOST": f"0.0.0.0:{OLLAMA_PORT}",
                  "OLLAMA_MODELS": "/models", "HOME": "/home/ollama", "OLLAMA_NOPRUNE": "1"}
    container = ContainerArgs(
        name="ollama",
        image=ref.ref,
        image_pull_policy="IfNotPresent",
        args=["serve"],
        env=_env(server_env),
        ports=[ContainerPortArgs(name="http", container_port=OLLAMA_PORT, protocol="TCP")],
        volume_mounts=[VolumeMountArgs(name="models", mount_path="/models", read_only=True), home_mount, tmp_mount],
        resources=resources(mem.cpu_request, mem.request, cpu_limit=mem.cpu_request, memory_limit=mem.limit,
                            extended=extended),
        security_context=container_security_context(),
        startup_probe=http_probe("/api/version", "http", period_seconds=5, failure_threshold=60),
        liveness_probe=http_probe("/", "http", period_seconds=15),
        readiness_probe=http_probe("/api/version", "http", period_seconds=10),
    )
    containers, volumes = [container], []
    if args.auth_proxy and client_keys:  # named clients: the model gateway's proxy config, keys per client
        proxy = named_clients_sidecar(name, namespace=namespace, labels=labels, upstream_port=OLLAMA_PORT,
                                      clients=args.proxy_clients("kubernetes"), models=args.served_models(),
                                      client_keys=client_keys, opts=opts)
    elif args.auth_proxy:
        proxy = auth_proxy_sidecar(name, namespace=namespace, labels=labels, upstream_port=OLLAMA_PORT, api_key=api_key,
                                   health_path="/api/version", metrics_path=None, opts=opts)
    if args.auth_proxy:
        containers += [proxy.container, *proxy.extra_containers]
        volumes = proxy.volumes
    tolerations = [taint_toleration(ctx.gpu_taint_key)] if extended else None
    job = _fill_job(name, args, ctx, ref, modelfiles, selector, opts=pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(depends_on=[pvc, config_map])))
    deployment = _single_pod_deployment(
        name, namespace, labels, selector, containers=containers, tolerations=tolerations,
        volumes=[VolumeArgs(name="models", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(
            claim_name=f"{name}-models")), home_volume, tmp_volume, *volumes],
        depends_on=[pvc, job], opts=opts)
    ports = [{"name": "http", "port": OLLAMA_PORT, "target_port": "http", "protocol": "TCP"}]
    if args.auth_proxy:
        ports.append({"name": PROXY_PORT_NAME, "port": PROXY_PORT, "target_port": PROXY_PORT_NAME, "protocol": "TCP"})
    svc = k8s.core.v1.Service(
        service, metadata=_meta(service, namespace, labels),
        spec={"type": "ClusterIP", "selector": selector, "ports": ports}, opts=opts)
    # Ollama's own port: the stack's web UI and the probers; clients and the smoke Job only without the proxy
    # (with it, they come in through the proxy, as clients do).
    smoke_pods = smoke_selector("ollama", name)
    ingress = [ingress_from_pods([webui_selector] if args.auth_proxy else [webui_selector, smoke_pods, *args.clients], ["http"]),
               *(ingress_from_pods([p.pod_labels], ["http"], namespace_labels=p.namespace_labels) for p in ctx.probers)]
    if args.auth_proxy:
        ingress.append(ingress_from_pods([smoke_pods, *args.clients], [PROXY_PORT_NAME]))
    if client_keys:  # the proxy's per-client metrics exporter: Prometheus only
        ingress.append(prometheus_ingress(ctx))
    k8s.networking.v1.NetworkPolicy(
        name, metadata=_meta(name, namespace, labels),
        # The store is filled by the Job below; the server reaches nothing but DNS (CKV_SLM_030).
        spec=network_policy_spec(selector, ingress=ingress),
        opts=opts)

    scripts = lifecycle_scripts(name, namespace, labels, ["smoke_check.py"], opts)
    smoke_deps: list[pulumi.Resource] = [deployment, svc, scripts]
    key_secret = None
    if args.auth_proxy:  # the smoke Job calls through the proxy with the client key, read from a Secret file
        key_secret = (f"{name}-api-key", "api-key")
        smoke_deps.append(k8s.core.v1.Secret(
            key_secret[0], metadata=_meta(key_secret[0], namespace, labels), type="Opaque",
            string_data={"api-key": pulumi.Output.secret(
                client_keys[VERIFY_CLIENT].apply(lambda keys: keys[0]) if client_keys else api_key)}, opts=opts))
    smoke_job(
        app="ollama", instance=name, namespace=namespace, part_of=part_of,
        key=spec_key(ref.ref, server_env, modelfiles, [r.tag for r in args.resolved()], args.auth_proxy),
        base_url=f"http://{service}.{namespace}.svc.cluster.local:{PROXY_PORT}/v1" if args.auth_proxy else f"{url}/v1",
        models=args.served_models(), api_key_secret=key_secret, server_selector=selector,
        server_port=PROXY_PORT if args.auth_proxy else OLLAMA_PORT, scripts_config_map=f"{name}-lifecycle",
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=smoke_deps)),
    )
    served = job.metadata.apply(lambda _m: args.served_models())

    webui_url = None
    if args.webui.enabled:
        webui_url = _webui(name, args, ctx, webui_secret_key, selector, url, opts)
    api_url = f"http://{service}.{namespace}.svc.cluster.local:{PROXY_PORT}" if args.auth_proxy else url
    client_metrics = proxy_client_contribution(f"{name}-clients", f"{name}-proxy", namespace, selector,
                                               port_name=CLIENT_METRICS_PORT_NAME,
                                               proxy="Ollama's auth proxy") if client_keys else None
    return TargetOutputs(f"{api_url}/v1", webui_url, served, monitoring_for(name, f"{name}-ollama", f"{url}/api/version"),
                         client_metrics)


def _webui(name, args, ctx: StackContext, secret_key, ollama_selector, ollama_url, opts) -> str:
    s = args.webui
    namespace, part_of = ctx.namespace, ctx.part_of
    ref = image("open-webui")
    wname = f"{name}-webui"
    labels = standard_labels("open-webui", name, "chat-ui", ref.tag, part_of)
    selector = selector_labels("open-webui", name)
    secret = k8s.core.v1.Secret(
        f"{wname}-secret-key", metadata=_meta(f"{wname}-secret-key", namespace, labels), type="Opaque",
        string_data={"webui_secret_key": pulumi.Output.secret(secret_key)}, opts=opts)
    pvc = k8s.core.v1.PersistentVolumeClaim(
        f"{wname}-data", metadata=_meta(f"{wname}-data", namespace, labels),
        spec={"access_modes": ["ReadWriteOnce"], "storage_class_name": ctx.storage_class,
              "resources": {"requests": {"storage": s.storage_size}}}, opts=opts)
    key_volume, key_mount = secret_file_volume("secret-key", f"{wname}-secret-key", WEBUI_SECRET_DIR)
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
            key_mount,  # WEBUI_SECRET_KEY_FILE names the file in it (webui.py)
            tmp_mount, home_mount,
        ],
        resources=resources(s.cpu, memory, cpu_limit=s.cpu, memory_limit=memory),
        security_context=container_security_context(),
        startup_probe=http_probe("/health", "http", period_seconds=10, failure_threshold=30),
        liveness_probe=http_probe("/health", "http", period_seconds=20),
        readiness_probe=http_probe("/health", "http", period_seconds=10),
    )
    _single_pod_deployment(
        wname, namespace, labels, selector, containers=[container],
        volumes=[VolumeArgs(name="data", persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(
            claim_name=f"{wname}-data")), key_volume, tmp_volume, home_volume],
        depends_on=[pvc, secret], opts=opts)
    k8s.core.v1.Service(
        wname, metadata=_meta(wname, namespace, labels),
        spec={"type": "ClusterIP", "selector": selector,
              "ports": [{"name": "http", "port": WEBUI_PORT, "target_port": "http", "protocol": "TCP"}]},
        opts=opts)
    k8s.networking.v1.NetworkPolicy(
        wname, metadata=_meta(wname, namespace, labels),
        spec=network_policy_spec(
            selector,
            # Only the pods the stack names (webui.clients, e.g. its ingress controller); none by default.
            ingress=[ingress_from_pods([c.pod_labels], ["http"], namespace_labels=c.namespace_labels) for c in s.clients],
            egress=[egress_to_pods([ollama_selector], ["http"])]),
        opts=opts)
    return f"http://{wname}.{namespace}.svc.cluster.local:{WEBUI_PORT}"


def _fill_script(tags: list[str], variants: list[str]) -> str:
    """The fill Job's shell: its own ``ollama serve`` on 127.0.0.1 writes the store; a model already in the store
    is never pulled again (``ollama show`` answers from the local manifest; ollama-helm #154); each pull is
    verified by Ollama itself (server/images.go PullModel: "verifying sha256 digest"); variants are re-created
    from their Modelfiles (local, no download); then the server stops."""
    lines = [
        "set -eu",
        "ollama serve >/tmp/ollama-serve.log 2>&1 & server=$!",
        "until ollama list >/dev/null 2>&1; do kill -0 $server 2>/dev/null || { cat /tmp/ollama-serve.log; exit 1; }; sleep 1; done",
    ]
    for tag in tags:
        q = shlex.quote(tag)
        lines.append(f"if ollama show {q} >/dev/null 2>&1; then echo \"present: {tag} (not pulled again)\"; "
                     f"else ollama pull {q}; fi")
    lines += [f"ollama create {shlex.quote(v)} -f /modelfiles/{v}.Modelfile" for v in variants]
    lines += ["ollama list", "kill $server", "wait $server || true"]
    return "\n".join(lines)


def _fill_job(name: str, args: OllamaStackArgs, ctx: StackContext, ref, modelfiles: dict[str, str],
              server_selector: dict[str, str], opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
    """The cache-fill Job: pulls into the models PVC before the server starts (and again, for new models only,
    before each rollout that changes the model list)."""
    tags = [r.tag for r in args.resolved()]
    fill = CacheFill(
        app="ollama", instance=name, job_name=f"{name}-fill-{spec_key(tags, modelfiles)}", namespace=ctx.namespace,
        part_of=ctx.part_of, image=ref.ref, version=ref.tag,
        steps=[FillStep("pull", ["/bin/sh", "-c", _fill_script(tags, list(modelfiles))])],
        claim=f"{name}-models", mount_path="/models",
        env={"OLLAMA_HOST": f"127.0.0.1:{OLLAMA_PORT}", "OLLAMA_MODELS": "/models", "HOME": "/tmp"},
        download_bytes=int(_quantity_gib(args.storage_size) * 1024**3 * 2 // 3),
        egress=[egress_public([443], also_except=ctx.cluster.api_server_cidrs)],
        extra_volumes=[(VolumeArgs(name="modelfiles", config_map={"name": f"{name}-modelfiles", "default_mode": 0o444}),
                        VolumeMountArgs(name="modelfiles", mount_path="/modelfiles", read_only=True))],
        memory="512Mi", memory_limit="1Gi",
        # The models PVC is ReadWriteOnce: prefer the node of the running server (a re-run meets it there).
        pod_spec_extra={"affinity": AffinityArgs(pod_affinity=PodAffinityArgs(
            preferred_during_scheduling_ignored_during_execution=[WeightedPodAffinityTermArgs(
                weight=100, pod_affinity_term=PodAffinityTermArgs(
                    label_selector=LabelSelectorArgs(match_labels=server_selector),
                    topology_key="kubernetes.io/hostname"))]))},
    )
    return cache_fill_job(fill, opts)


def _quantity_gib(value: str) -> float:
    units = {"Gi": 1, "G": 1e9 / 1024**3, "Ti": 1024, "T": 1e12 / 1024**3, "Mi": 1 / 1024, "M": 1e6 / 1024**3}
    for unit, factor in units.items():
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    return float(value) / 1024**3
