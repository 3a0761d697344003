"""The ModelGateway workload: one pod shape, three containers, everything hardened.

* ``proxy``: nginx + njs on 8080, the only port clients reach (keys, allow-lists, limits, errors).
* ``router``: vllm-router on 127.0.0.1:8001, IGW mode, Kubernetes discovery of the stack's vLLM
  pods (Role: get/list/watch pods in the namespace; a projected token mounted into this
  container only), Prometheus metrics on 29000. It runs from the install volume, mounted
  read-only: the hash-locked release, installed by a separate Job (:mod:`components.gateway.install`),
  so the gateway pods themselves never reach the internet.
* ``exporter``: per-client metrics from nginx's access log on 9145.

Egress of the gateway pods: DNS, the vLLM pods on 8000 and the Kubernetes API (the declared
``cluster.apiServerCidrs``, else the private ranges), nothing else.

With ``cluster.inferenceGateway`` (GAIE) the pod runs only ``proxy`` and ``exporter``: the proxy sets
``X-Gateway-Model-Name`` to the body's ``model`` and forwards to the cluster Gateway's address, which routes by
that header (:mod:`components.gateway.http_route`) to one InferencePool per vLLM service
(:mod:`components.gateway.inference_pool`). No router, no router install Job, no discovery Role; egress is DNS and
the Gateway's data-plane pods on the address's port.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import (
    ContainerArgs,
    ContainerPortArgs,
    EnvVarArgs,
    ExecActionArgs,
    ProbeArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import NetworkPolicyPortArgs

from components.context import StackContext
from components.gateway.args import GatewayArgs, GatewayBackend, GatewayCanary
from components.gateway.exporter import exporter_container
from components.gateway.http_route import http_routes
from components.gateway.inference_pool import PoolRef, inference_pool
from components.gateway.install import ROUTER_SITE, gateway_placement, router_install
from components.gateway.constants import (
    APP_NAME, CANARY_METRICS_PORT, CANARY_ROUTER_PORT, EXPORTER_PORT, PROMETHEUS_POD_LABELS, EXPORTER_PORT_NAME, PROXY_PORT, PROXY_PORT_NAME, ROUTER_METRICS_PORT,
    ROUTER_METRICS_PORT_NAME, ROUTER_PORT, ROUTER_VERSION, SYSLOG_ADDRESS, WORKER_PORT, WORKER_SELECTOR, MODEL_HEADER,
    GAIE_VERSION,
)
from components.gateway.proxy import (
    EXPORTER_PY, GATEWAY_JS, ROUTER_REQUIREMENTS, CanaryRoute, gateway_nginx_conf, keys_file_text,
)
from components.hardening import (
    container_security_context, egress_api_server, egress_to_pods, http_probe, ingress_from_pods,
    network_policy_spec, restricted_pod_spec, resources, scratch_volume, secret_file_volume, service_account_token_volume,
)
from components.labels import TRACK_LABEL, selector_labels, standard_labels
from components.gateway.named_clients import proxy_clients
from components.versions import image

__all__ = ["GatewayWorkload", "build_gateway", "canary_port_name"]

KEYS_DIR = "/etc/gateway/keys"
JS_DIR = "/etc/gateway/js"


@dataclass(frozen=True)
class GatewayWorkload:
    labels: dict[str, str]
    selector: dict[str, str]
    service_name: str
    client_secret_names: dict[str, str]
    ready: list[pulumi.Resource]
    """What a caller waits for before it calls the gateway (Deployment, Service, NetworkPolicy, key Secrets)."""


def _exec_probe(url: str, period: int, failures: int = 3) -> ProbeArgs:
    """The router listens on loopback only, so kubelet probes exec python3 inside the container."""
    script = ("import sys, urllib.request\n"
              f"sys.exit(0 if urllib.request.urlopen({url!r}, timeout=4).status == 200 else 1)\n")
    return ProbeArgs(exec_=ExecActionArgs(command=["python3", "-c", script]), period_seconds=period,
                     timeout_seconds=5, failure_threshold=failures)


def _router_args(args: GatewayArgs, ctx: StackContext, *, extra_selector: dict[str, str], port: int,
                 metrics_port: int) -> list[str]:
    """One router's command line: it discovers the stack's vLLM pods matching ``extra_selector`` too (the stable
    track, or one service's canary pods)."""
    labels = {**WORKER_SELECTOR, "app.kubernetes.io/part-of": ctx.part_of, **extra_selector}
    return ["-m", "vllm_router.launch_router",
            "--host", "127.0.0.1", "--port", str(port), "--enable-igw", "--policy", args.policy,
            "--service-discovery", "--selector", *(f"{k}={v}" for k, v in labels.items()),
            "--service-discovery-namespace", ctx.namespace, "--service-discovery-port", str(WORKER_PORT),
            "--prometheus-host", "0.0.0.0", "--prometheus-port", str(metrics_port), "--log-level", "info"]


def canary_port_name(index: int) -> str:
    """Metrics port name of canary ``index``'s router."""
    return f"canary-{index}"


def build_gateway(
    name: str,
    args: GatewayArgs,
    ctx: StackContext,
    *,
    models: list[str],
    client_keys: dict[str, pulumi.Output[list[str]]],
    verify_concurrency: int | None = None,
    canaries: list[GatewayCanary] | None = None,
    backends: list[GatewayBackend] | None = None,
    opts: pulumi.ResourceOptions,
) -> GatewayWorkload:
    """Create every object of the gateway. ``client_keys`` maps each client to its keys (secret outputs);
    ``verify_concurrency``: add the verification client (:meth:`GatewayArgs.effective_clients`); ``canaries``:
    the vLLM services with a canary revision (one more router each, discovering only that canary's pods);
    ``backends``: the vLLM services and their served names (an InferencePool each with cluster.inferenceGateway)."""
    canaries = list(canaries or [])
    gaie = ctx.cluster.inference_gateway
    if gaie is not None and canaries:
        raise ValueError(f"{name}: canaries need the gateway's own routers; with cluster.inferenceGateway there are none")
    namespace = ctx.namespace
    labels = standard_labels(APP_NAME, name, "gateway", GAIE_VERSION if gaie else ROUTER_VERSION, ctx.part_of)
    selector = selector_labels(APP_NAME, name)

    def meta(obj_name: str, extra: dict[str, str] | None = None) -> ObjectMetaArgs:
        return ObjectMetaArgs(name=obj_name, namespace=namespace, labels=labels, annotations=extra)

    clients = args.effective_clients(models, verify_concurrency)
    # Limits are per nginx instance: split each client's budget across the replicas.
    per_replica = proxy_clients(clients, args.replicas)
    conf = gateway_nginx_conf(per_replica, models, router=gaie.address if gaie else f"127.0.0.1:{ROUTER_PORT}",
                              listen=PROXY_PORT, keys_file=f"{KEYS_DIR}/clients.keys", js_dir=JS_DIR,
                              metrics_syslog=SYSLOG_ADDRESS, model_header=MODEL_HEADER if gaie else None,
                              **({"title": "Model gateway proxy: named client keys, per-client limits and metrics, in "
                                           "front of the cluster's Gateway (Gateway API Inference Extension)."}
                                 if gaie else {}),
                              canaries=[CanaryRoute(c.models, c.share, f"127.0.0.1:{CANARY_ROUTER_PORT + i}")
                                        for i, c in enumerate(canaries)])
    files = {"nginx.conf": conf, "gateway.js": GATEWAY_JS.read_text(), "metrics_exporter.py": EXPORTER_PY.read_text()}
    if gaie is None:
        files["router-requirements.txt"] = ROUTER_REQUIREMENTS.read_text()
    checksum = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    files_cm = k8s.core.v1.ConfigMap(f"{name}-files", metadata=meta(f"{name}-files"), data=files, opts=opts)
    install = None if gaie else router_install(name, ctx, requirements=files["router-requirements.txt"],
                                               files_config_map=files_cm, gateway_selector=selector, opts=opts)

    # --- keys: hashes for the proxy, raw keys for the clients ---------------------------------
    all_keys = pulumi.Output.all(**client_keys)
    ready: list[pulumi.Resource] = []
    keys_secret = k8s.core.v1.Secret(f"{name}-keys", metadata=meta(f"{name}-keys"), type="Opaque",
                       string_data={"clients.keys": pulumi.Output.secret(all_keys.apply(keys_file_text))}, opts=opts)
    client_secrets = {}
    for client in clients:
        secret_name = f"{name}-client-{client.name}"
        current = client_keys[client.name].apply(lambda keys: keys[0])
        ready.append(k8s.core.v1.Secret(secret_name, metadata=meta(secret_name), type="Opaque",
                                        string_data={"api-key": pulumi.Output.secret(current)}, opts=opts))
        client_secrets[client.name] = secret_name
    ready.append(keys_secret)

    # --- discovery RBAC (the router's; none with GAIE) -------------------------------------------
    k8s.core.v1.ServiceAccount(name, metadata=meta(name), automount_service_account_token=False, opts=opts)
    if install is not None:
        k8s.rbac.v1.Role(f"{name}-discovery", metadata=meta(f"{name}-discovery"), rules=[
            k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods"], verbs=["get", "list", "watch"]),
        ], opts=opts)
        k8s.rbac.v1.RoleBinding(f"{name}-discovery", metadata=meta(f"{name}-discovery"),
                                role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role",
                                                                 name=f"{name}-discovery"),
                                subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=name, namespace=namespace)],
                                opts=opts)

    # --- pod ------------------------------------------------------------------------------------
    python, nginx = image("python-slim"), image("nginx-unprivileged")
    files_volume = VolumeArgs(name="files", config_map={"name": f"{name}-files", "default_mode": 0o444})
    keys_volume, keys_mount = secret_file_volume("keys", f"{name}-keys", KEYS_DIR)
    proxy_tmp, proxy_tmp_mount = scratch_volume("proxy-tmp", "/tmp", size_limit="256Mi")

    def file_mount(key: str, path: str) -> VolumeMountArgs:
        return VolumeMountArgs(name="files", mount_path=path, sub_path=key, read_only=True)

    proxy = ContainerArgs(
        name="proxy", image=nginx.ref, image_pull_policy="IfNotPresent",
        command=["nginx"], args=["-c", "/etc/gateway/nginx.conf", "-g", "daemon off;"],
        ports=[ContainerPortArgs(name=PROXY_PORT_NAME, container_port=PROXY_PORT, protocol="TCP")],
        volume_mounts=[file_mount("nginx.conf", "/etc/gateway/nginx.conf"), file_mount("gateway.js", f"{JS_DIR}/gateway.js"),
                       keys_mount, proxy_tmp_mount],
        resources=resources("200m", "128Mi", cpu_limit="1", memory_limit="256Mi"),
        security_context=container_security_context(),
        liveness_probe=http_probe("/healthz", PROXY_PORT_NAME, period_seconds=10),
        readiness_probe=http_probe("/healthz", PROXY_PORT_NAME, period_seconds=5),
    )
    exporter = exporter_container("exporter", file_mount("metrics_exporter.py", "/etc/gateway/metrics_exporter.py"),
                                  EXPORTER_PORT, EXPORTER_PORT_NAME)
    volumes = [files_volume, keys_volume]
    routers: list[ContainerArgs] = []
    if install is not None:
        token_volume, token_mount = service_account_token_volume("router-token")
        router_vol, router_mount = install.volume()
        router_tmp, router_tmp_mount = scratch_volume("router-tmp", "/tmp", size_limit="64Mi")
        volumes += [token_volume, router_vol]

        def router_container(container: str, extra_selector: dict[str, str], port: int, metrics_port: int,
                             metrics_name: str) -> ContainerArgs:
            return ContainerArgs(
                name=container, image=python.ref, image_pull_policy="IfNotPresent",
                command=["python3"],
                args=_router_args(args, ctx, extra_selector=extra_selector, port=port, metrics_port=metrics_port),
                env=[EnvVarArgs(name="PYTHONPATH", value=ROUTER_SITE), EnvVarArgs(name="HOME", value="/tmp")],
                ports=[ContainerPortArgs(name=metrics_name, container_port=metrics_port, protocol="TCP")],
                volume_mounts=[router_mount, token_mount, router_tmp_mount],
                resources=resources("250m", "256Mi", cpu_limit="2", memory_limit="1Gi"),
                security_context=container_security_context(),
                startup_probe=_exec_probe(f"http://127.0.0.1:{port}/liveness", 5, failures=24),
                liveness_probe=_exec_probe(f"http://127.0.0.1:{port}/liveness", 10),
                readiness_probe=_exec_probe(f"http://127.0.0.1:{port}/liveness", 5),
            )

        # One router per canary, discovering only that service's canary pods: in IGW mode vllm-router sends a model it
        # has no worker for to any worker it has (src/routers/http/router.rs:1399-1401, docs/lifecycle.md), so a shared
        # canary router would hand one model's requests to another model's canary while that canary is not ready.
        routers = [router_container("router", {TRACK_LABEL: "stable"}, ROUTER_PORT, ROUTER_METRICS_PORT, ROUTER_METRICS_PORT_NAME)]
        routers += [router_container(f"router-canary-{i}", {"app.kubernetes.io/instance": c.instance, TRACK_LABEL: "canary"},
                                     CANARY_ROUTER_PORT + i, CANARY_METRICS_PORT + i, canary_port_name(i))
                    for i, c in enumerate(canaries)]
        volumes += [proxy_tmp, router_tmp]
    else:
        volumes += [proxy_tmp]
    # Without an install volume (GAIE) nothing ties the replicas to one node: they spread, as with an RWX install.
    spread = install is None or install.rwx
    deployment = k8s.apps.v1.Deployment(
        name, metadata=meta(name),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=args.replicas,
            selector=LabelSelectorArgs(match_labels=selector),
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            template=k8s.core.v1.PodTemplateSpecArgs(
                # A changed config rolls the pods (nginx drains in-flight requests on SIGQUIT); a changed key
                # does not: the keys Secret is read per request.
                metadata=ObjectMetaArgs(labels=labels, annotations={"slm-deploy.io/config-checksum": checksum}),
                spec=restricted_pod_spec(
                    service_account_name=name,
                    containers=[proxy, *routers, exporter],
                    volumes=volumes,
                    affinity=gateway_placement(selector, spread),
                    termination_grace_period_seconds=660,
                ),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=install.ready)) if install else opts,
    )
    # With a ReadWriteOnce install the replicas share one node: a PDB would block draining it for good (the
    # evicted pod's replacement must return to that node), so there is none (docs/gateway.md, "The pod").
    if args.replicas > 1 and spread:
        k8s.policy.v1.PodDisruptionBudget(name, metadata=meta(name), spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            min_available=1, selector=LabelSelectorArgs(match_labels=selector)), opts=opts)

    # --- service, network policy, ingress --------------------------------------------------------
    service = k8s.core.v1.Service(name, metadata=meta(name), spec=k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP", selector=selector,
        ports=[k8s.core.v1.ServicePortArgs(name=PROXY_PORT_NAME, port=PROXY_PORT, target_port=PROXY_PORT_NAME, protocol="TCP")],
    ), opts=opts)
    scraper = ctx.prometheus
    metrics_ports = [EXPORTER_PORT] if gaie else [
        EXPORTER_PORT, ROUTER_METRICS_PORT, *(CANARY_METRICS_PORT + i for i in range(len(canaries)))]
    ingress = [
        # The stack's one entry point: any caller may connect; the proxy authenticates every request.
        k8s.networking.v1.NetworkPolicyIngressRuleArgs(ports=[NetworkPolicyPortArgs(protocol="TCP", port=PROXY_PORT)]),
        ingress_from_pods([PROMETHEUS_POD_LABELS], metrics_ports,
                          namespace_labels=scraper.namespace_labels if scraper else None),
    ]
    if gaie is not None:
        # The cluster Gateway's data plane on its listener port (the address's), nothing else.
        egress = [egress_to_pods([gaie.data_plane.pod_labels], [gaie.port],
                                 namespace_labels=gaie.data_plane_namespace_labels)]
    else:
        egress = [
            egress_to_pods([{**WORKER_SELECTOR, "app.kubernetes.io/part-of": ctx.part_of}], [WORKER_PORT]),
            # The Kubernetes API for pod discovery; no internet: the router is installed by its own Job.
            egress_api_server(ctx.cluster.api_server_cidrs),
        ]
    policy = k8s.networking.v1.NetworkPolicy(name, metadata=meta(name),
                                             spec=network_policy_spec(selector, ingress=ingress, egress=egress), opts=opts)
    if gaie is not None:
        pools = [PoolRef(inference_pool(name, b.service, {**WORKER_SELECTOR, "app.kubernetes.io/instance": b.service,
                                                          TRACK_LABEL: "stable"}, ctx, gaie, opts=opts), b.models)
                 for b in backends or []]
        http_routes(name, namespace, labels, gaie, pools, opts=opts)
    if args.ingress is not None:
        ing = args.ingress
        k8s.networking.v1.Ingress(name, metadata=meta(name), spec=k8s.networking.v1.IngressSpecArgs(
            ingress_class_name=ing.class_name,
            tls=[k8s.networking.v1.IngressTLSArgs(hosts=[ing.host], secret_name=ing.tls_secret_name)],
            rules=[k8s.networking.v1.IngressRuleArgs(host=ing.host, http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=[
                k8s.networking.v1.HTTPIngressPathArgs(path="/v1", path_type="Prefix", backend=k8s.networking.v1.IngressBackendArgs(
                    service=k8s.networking.v1.IngressServiceBackendArgs(
                        name=name, port=k8s.networking.v1.ServiceBackendPortArgs(name=PROXY_PORT_NAME)))),
            ]))],
        ), opts=opts)
    return GatewayWorkload(labels, selector, name, client_secrets, [deployment, service, policy, *ready])
