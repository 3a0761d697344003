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

The server authenticates every request itself (Bearer key from a mounted file): edge boxes have no
authenticating sidecar, and only ``/health`` and ``/ready`` are open.

The one side effect at program time: the docker target writes the image build context
(Dockerfile, server.py, requirements.txt) to ``build/.image-context/<stack>/<name>/`` (outside the rendered build dir) because
``docker.Image`` needs the directory on disk. The bytes are deterministic and identical to the
``generatedFiles`` the renderer writes to ``build/<stack>/files/<name>/``, which the gate scans.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.catalog import ModelSpec, get_cpu_tier, get_model, get_quant
from components.hardening import DEFAULT_UID
from components.labels import standard_labels
from components.observability import MonitoringContribution
from components.optouts import opt_out_records
from components.probe_monitoring import probe_contribution
from components.sizing import FitError, MemoryPlan, size_onnx
from components.templating import render_template
from components.validation import dns_label, ip_address
from components.versions import image as pinned_image

__all__ = ["OnnxEdgeNodeArgs", "OnnxEdgeNode", "EDGE_POOL_LABEL", "EDGE_TAINT_KEY", "SERVER_PORT", "image_context_files"]

TYPE = "slm:serving:OnnxEdgeNode"
SERVER_PORT = 8000
EDGE_POOL_LABEL = "slm-deploy.io/edge-pool"
"""Node label (set by an admin) that selects the edge pool a node belongs to."""
EDGE_TAINT_KEY = "slm-deploy.io/edge"
"""Taint key (set by an admin, effect NoSchedule) that keeps other workloads off edge nodes."""
SECRETS_DIR = "/run/slm-secrets"
API_KEY_FILE = f"{SECRETS_DIR}/api-key"
HF_TOKEN_FILE = f"{SECRETS_DIR}/hf-token"
MODELS_DIR = "/models"
START_BUDGET_SECONDS = 600  # model load of a ~5 GB int4 export from a slow edge disk
SERVER_DIR = Path(__file__).resolve().parent / "onnx_edge" / "server"
_DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$")
_HARDWARE_FOR_EP = {
    "cuda": ("nvidia-gpu",),
    "openvino": ("intel-gpu", "intel-npu"),
    "qnn": ("qualcomm-npu",),
}
_DEVICE_RESOURCE = {"nvidia-gpu": "nvidia.com/gpu", "intel-npu": "npu.intel.com/accel", "intel-gpu": "gpu.intel.com/i915"}


class OnnxEdgeNodeArgs(BaseModel):
    """One ONNX Runtime GenAI server on an edge box or a k3s edge pool."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(description="Name of the server (container / Deployment / Service name, DNS-1123 label). Required.")
    model: str = Field(description="Catalog model id with a published ONNX export (components/catalog/models.yaml `onnx:`), e.g. phi-4-mini-instruct. Required.")
    target: Literal["docker", "kubernetes"] = Field(default="docker", description="docker: one edge box through pulumi-docker; kubernetes: k3s edge nodes. Default docker, the common edge case; must match the stack's target.")
    variant: str = Field(default="cpu-int4", description="ONNX export variant of the model (e.g. cpu-int4, gpu-int4). Default cpu-int4: runs on any x86_64/aarch64 CPU with the smallest memory footprint.")
    execution_provider: Literal["cpu", "cuda", "openvino", "qnn"] = Field(default="cpu", alias="executionProvider", description="onnxruntime-genai execution provider. Default cpu: needs no accelerator and matches the generated image (CPU onnxruntime-genai).")
    accelerator: Literal["none", "nvidia-gpu", "intel-gpu", "intel-npu", "qualcomm-npu"] = Field(default="none", description="Accelerator present on the edge hardware; cuda needs nvidia-gpu, openvino intel-gpu/intel-npu, qnn qualcomm-npu. Default none (CPU only).")
    hardware_tier: str = Field(default="cpu-8gb", alias="hardwareTier", description="Edge hardware tier from components/catalog/hardware.yaml (cpu-4gb, cpu-8gb, cpu-16gb, cpu-32gb) for the fit check. Default cpu-8gb, a common edge box.")
    max_length: int = Field(default=4096, ge=256, alias="maxLength", description="Cap on prompt + completion tokens (onnxruntime-genai max_length; the KV cache is sized by it). Default 4096: enough for chat, far below the model's full context (131072 for Phi-4-mini), which would not fit an edge box.")
    concurrency: int = Field(default=1, ge=1, le=16, description="Generations running at once (each holds a KV cache of max_length). Default 1: edge CPUs are saturated by one generation.")
    max_queue: int = Field(default=8, ge=0, le=1024, alias="maxQueue", description="Requests waiting for a free slot before the server answers 429. Default 8.")
    publish_address: str = Field(default="127.0.0.1", alias="publishAddress", description="Host address the docker target publishes the port on. Default 127.0.0.1 (reach it through an SSH tunnel or a reverse proxy). 0.0.0.0 is allowed because the server authenticates every /v1 request itself; /health and /ready stay open.")
    port: int = Field(default=SERVER_PORT, ge=1024, le=65535, description="Host port (docker target). Default 8000.")
    platform: Literal["linux/amd64", "linux/arm64"] = Field(default="linux/amd64", description="Image platform built on the edge box (docker target). Default linux/amd64; arm64 boards (Jetson, Raspberry Pi 5, Ampere) need linux/arm64.")
    image: str | None = Field(default=None, description="Prebuilt server image by digest (repo@sha256:...), built by CI from the generated Dockerfile. Default None: the docker target builds the image on the edge box. Required for kubernetes (nodes pull from a registry) and for non-cpu execution providers (the generated image is the CPU build).")
    edge_pool: str = Field(default="edge", alias="edgePool", description=f"kubernetes: value of the node label {EDGE_POOL_LABEL} selecting the edge nodes (pods also tolerate the {EDGE_TAINT_KEY} taint). Default edge.")
    storage_gb: int | None = Field(default=None, ge=1, alias="storageGb", description="kubernetes: size of the model PVC in GB. Default None: 1.5 × the variant's weights, rounded up.")

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        return dns_label(value, what="name")

    @field_validator("model")
    @classmethod
    def _onnx_model(cls, value: str) -> str:
        spec = get_model(value)  # UnknownCatalogId lists the allowed ids
        if spec.onnx is None:
            raise ValueError(f"model {value!r} has no ONNX export in the catalog; models with one: {', '.join(_onnx_models())}")
        return value

    @field_validator("hardware_tier")
    @classmethod
    def _tier(cls, value: str) -> str:
        get_cpu_tier(value)
        return value

    @field_validator("publish_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return ip_address(value, what="publishAddress", hint="use 127.0.0.1 (default) or 0.0.0.0")

    @field_validator("image")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST_REF.match(value):
            raise ValueError(f"image {value!r} must be pinned by digest: <repository>[:tag]@sha256:<64 hex>")
        return value

    @field_validator("edge_pool")
    @classmethod
    def _pool(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", value):
            raise ValueError(f"edgePool {value!r} is not a valid label value (alphanumerics, '-', '_', '.', at most 63)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OnnxEdgeNodeArgs:
        spec = get_model(self.model)
        variants = spec.onnx.variants  # type: ignore[union-attr]
        if self.variant not in variants:
            raise ValueError(f"variant {self.variant!r} is not published for {self.model}; allowed: {', '.join(variants)}")
        device = get_quant(self.variant).device
        if device == "gpu" and self.execution_provider != "cuda":
            raise ValueError(f"variant {self.variant} is a GPU export and needs executionProvider cuda (with accelerator nvidia-gpu); "
                             f"got executionProvider {self.execution_provider}; on a CPU use a cpu variant")
        if device == "cpu" and self.execution_provider == "cuda":
            raise ValueError(f"executionProvider cuda needs a GPU variant; {self.variant} is a CPU export "
                             f"(GPU variants of {self.model}: {', '.join(v for v in variants if get_quant(v).device == 'gpu') or 'none'})")
        needed = _HARDWARE_FOR_EP.get(self.execution_provider)
        if needed and self.accelerator not in needed:
            raise ValueError(f"executionProvider {self.execution_provider} needs accelerator {' or '.join(needed)}; "
                             f"got accelerator {self.accelerator}; without that hardware use executionProvider cpu")
        if self.execution_provider != "cpu" and self.image is None:
            raise ValueError(f"executionProvider {self.execution_provider} needs `image`: the generated image is the CPU build of "
                             "onnxruntime-genai; give an image (repo@sha256:...) with the matching build (e.g. onnxruntime-genai-cuda)")
        if self.target == "kubernetes" and self.image is None:
            raise ValueError("target kubernetes needs `image`: k3s nodes pull from a registry; build "
                             "build/<stack>/files/<name>/Dockerfile in CI, push it and give repo@sha256:<digest>")
        if self.max_length > spec.max_position_embeddings:
            raise ValueError(f"maxLength {self.max_length} is above {self.model}'s maximum of {spec.max_position_embeddings} tokens")
        self.plan()  # the fit check: FitError (a ValueError) carries the numbers and what would fit
        return self

    # -- derived -------------------------------------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        return get_model(self.model)

    def plan(self) -> MemoryPlan:
        """Memory plan on the hardware tier (raises FitError with numbers when it does not fit)."""
        tier = get_cpu_tier(self.hardware_tier)
        try:
            return size_onnx(self.model, variant=self.variant, max_length=self.max_length,
                             concurrency=self.concurrency, host_memory_bytes=tier.allocatable_bytes)
        except FitError as exc:
            raise ValueError(f"does not fit {tier.id}: {exc}") from None

    @property
    def subfolder(self) -> str:
        return self.spec.onnx.variants[self.variant]  # type: ignore[union-attr]

    @property
    def model_dir(self) -> str:
        return f"{MODELS_DIR}/{self.model}/{self.subfolder}"

    def download_argv(self) -> list[str]:
        """``hf download <repo> --revision <sha> --include '<variant>/*' --local-dir /models/<model>``."""
        onnx = self.spec.onnx
        assert onnx is not None and onnx.revision, f"{self.model}: the catalog must pin the ONNX revision"
        return ["hf", "download", onnx.repo, "--revision", onnx.revision, "--include", f"{self.subfolder}/*",
                "--local-dir", f"{MODELS_DIR}/{self.model}"]

    def server_env(self) -> dict[str, str]:
        return {
            "SLM_MODEL_DIR": self.model_dir,
            "SLM_MODEL_ID": self.model,
            "SLM_API_KEY_FILE": API_KEY_FILE,
            "SLM_MAX_LENGTH": str(self.max_length),
            "SLM_CONCURRENCY": str(self.concurrency),
            "SLM_MAX_QUEUE": str(self.max_queue),
            "SLM_EXECUTION_PROVIDER": self.execution_provider,
            "SLM_PORT": str(SERVER_PORT),
        }


def _onnx_models() -> list[str]:
    from components.catalog import list_models

    return [m.id for m in list_models() if m.onnx is not None]


def image_context_files(args: OnnxEdgeNodeArgs) -> dict[str, str]:
    """The image build context: rendered Dockerfile, the server and its hash-locked requirements."""
    dockerfile = render_template(
        "onnx-edge.Dockerfile.j2",
        base_image=pinned_image("python-slim").ref,
        uid=DEFAULT_UID,
        port=SERVER_PORT,
        start_period_seconds=START_BUDGET_SECONDS,
        model_id=args.model,
        variant=args.variant,
    )
    return {
        "Dockerfile": dockerfile,
        "requirements.txt": (SERVER_DIR / "requirements.txt").read_text(),
        "server.py": (SERVER_DIR / "server.py").read_text(),
    }


def _write_context(directory: Path, files: dict[str, str]) -> None:
    """Write the build context deterministically (only files whose bytes changed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = directory / rel
        if not path.exists() or path.read_text() != content:
            path.write_text(content)


def _ready_check(path: str = "/ready") -> list[str]:
    code = ("import sys, urllib.request; "
            f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{SERVER_PORT}{path}', timeout=4).status == 200 else 1)")
    return ["CMD", "python", "-c", code]


class OnnxEdgeNode(pulumi.ComponentResource):
    """ONNX Runtime GenAI server (OpenAI-compatible, self-authenticating) on an edge box or k3s edge nodes."""

    endpoint: pulumi.Output[str]
    monitoring: MonitoringContribution

    def __init__(
        self,
        resource_name: str,
        args: OnnxEdgeNodeArgs,
        *,
        api_key: pulumi.Input[str],
        hf_token: pulumi.Input[str] | None = None,
        namespace: str = "slm",
        part_of: str = "slm-deploy",
        storage_class: str | None = None,
        context_root: Path | None = None,
        probers: Sequence[tuple[dict[str, str], dict[str, str] | None]] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``probers`` (kubernetes target): the monitoring stack's probers as (pod labels, namespace labels or
        None for the same namespace); the NetworkPolicy admits them on the server port they probe /ready on.
        Default none (no monitoring)."""
        files = image_context_files(args)
        built = args.target == "docker" and args.image is None
        props = {
            "securityOptOuts": opt_out_records(TYPE, args.name, []),
            "generatedFiles": files,
        }
        super().__init__(TYPE, resource_name, props, opts)
        self.args = args
        self.plan = args.plan()
        self.version = f"{args.model}-{args.variant}"
        self.labels = standard_labels("onnx-edge", args.name, "model-server", _label_value(self.version), part_of)
        child = pulumi.ResourceOptions(parent=self)
        if args.target == "docker":
            context_dir = None
            if built:
                root = context_root or Path(__file__).resolve().parent.parent / "build" / ".image-context" / pulumi.get_stack()
                context_dir = root / args.name
                _write_context(context_dir, files)
            self.endpoint = self._docker(args, context_dir, files, api_key, hf_token, child)
        else:
            self.endpoint = self._kubernetes(args, namespace, storage_class, api_key, hf_token, list(probers), child)
        self.monitoring = probe_contribution(
            args.name, "onnx", job=f"onnx-edge-{args.name}",
            url=self._probe_url(args, namespace),
            namespace=namespace if args.target == "kubernetes" else None,
            pod_regex=f"{args.name}-.*" if args.target == "kubernetes" else None,
        )
        self.register_outputs({
            "endpoint": self.endpoint,
            "model": args.model,
            "maxLength": args.max_length,
            "memoryLimit": self.plan.memory_limit,
            "apiKeyFile": API_KEY_FILE,
        })

    @staticmethod
    def _probe_url(args: OnnxEdgeNodeArgs, namespace: str) -> str:
        if args.target == "kubernetes":
            return f"http://{args.name}.{namespace}.svc:{SERVER_PORT}/ready"
        host = "127.0.0.1" if args.publish_address in ("0.0.0.0", "::") else args.publish_address  # noqa: S104
        return f"http://{host}:{args.port}/ready"

    # ------------------------------------------------------------------------------ docker
    def _docker(self, args: OnnxEdgeNodeArgs, context_dir: Path | None, files: dict[str, str],
                api_key: pulumi.Input[str], hf_token: pulumi.Input[str] | None,
                child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        import pulumi_docker as docker

        uid = f"{DEFAULT_UID}:{DEFAULT_UID}"
        labels = [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(self.labels.items())]
        if context_dir is not None:
            digest = hashlib.sha256("".join(f"{k}\0{v}\0" for k, v in sorted(files.items())).encode()).hexdigest()
            image = docker.Image(
                f"{args.name}-image",
                image_name=f"slm-onnx-edge/{args.name}:{digest[:16]}",
                build=docker.DockerBuildArgs(context=str(context_dir), dockerfile=str(context_dir / "Dockerfile"),
                                             platform=args.platform),
                skip_push=True,
                opts=child,
            )
            # The tag is the sha256 of the build context (base image pinned by digest, hash-locked
            # wheels, server code): a changed input is a new tag, an unchanged one reuses the build.
            # (image.repo_digest, the local image id, is unknown until the build ran, so the offline
            # synth and the gate could not see the containers' image.)
            image_ref: pulumi.Input[str] = image.image_name
        else:
            image_ref = args.image  # type: ignore[assignment]

        network = docker.Network(
            f"{args.name}-net", name=f"{args.name}-net", driver="bridge",
            # Not internal: the download needs egress and the server a published port.
            # Containers on it cannot talk to each other (no inter-container traffic).
            options={"com.docker.network.bridge.enable_icc": "false"},
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in sorted(self.labels.items())],
            opts=child,
        )
        models = docker.Volume(f"{args.name}-models", name=f"{args.name}-models",
                               labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(self.labels.items())],
                               opts=child)
        # Secrets go into a root-owned volume: Docker refuses uploads into a read-only root filesystem
        # except into volumes. The server mounts it and reads the key file (mode 0400, owned by the server user).
        keys = docker.Volume(f"{args.name}-secrets", name=f"{args.name}-secrets",
                             labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(self.labels.items())],
                             opts=child)
        hardening = dict(
            read_only=True,
            user=uid,
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            security_opts=["no-new-privileges:true"],
            privileged=False,
            network_mode="bridge",
            labels=labels,
            log_driver="json-file",
            log_opts={"max-size": "10m", "max-file": "3"},
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
        )
        download_uploads = []
        download_env = [f"HF_HOME={MODELS_DIR}/.cache/huggingface", "HF_HUB_DISABLE_TELEMETRY=1"]
        download_volumes = [docker.ContainerVolumeArgs(volume_name=models.name, container_path=MODELS_DIR)]
        if hf_token is not None:
            download_uploads.append(docker.ContainerUploadArgs(file=HF_TOKEN_FILE, content=pulumi.Output.secret(hf_token),
                                                               owner=str(DEFAULT_UID), group=str(DEFAULT_UID), permissions="0400"))
            download_env.append(f"HF_TOKEN_PATH={HF_TOKEN_FILE}")
            download_volumes.append(docker.ContainerVolumeArgs(volume_name=keys.name, container_path=SECRETS_DIR))
        argv = args.download_argv()
        download = docker.Container(
            f"{args.name}-model-download",
            name=f"{args.name}-model-download",
            image=image_ref,
            entrypoints=argv[:1],
            command=argv[1:],
            envs=download_env,
            volumes=download_volumes,
            uploads=download_uploads or None,
            tmpfs={"/tmp": "rw,noexec,nosuid,size=512m"},
            memory=1024,
            memory_swap=1024,
            restart="no",
            must_run=False,
            attach=True,  # Pulumi waits for the download to exit before creating the server
            **hardening,
            opts=child,
        )
        memory_mib = min(self.plan.memory_limit_bytes, get_cpu_tier(args.hardware_tier).allocatable_bytes) // (1024 * 1024)
        server = docker.Container(
            args.name,
            name=args.name,
            image=image_ref,
            envs=[f"{k}={v}" for k, v in args.server_env().items()],
            ports=[docker.ContainerPortArgs(internal=SERVER_PORT, external=args.port, ip=args.publish_address, protocol="tcp")],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=models.name, container_path=MODELS_DIR, read_only=True),
                docker.ContainerVolumeArgs(volume_name=keys.name, container_path=SECRETS_DIR),
            ],
            uploads=[docker.ContainerUploadArgs(file=API_KEY_FILE, content=pulumi.Output.secret(api_key),
                                                owner=str(DEFAULT_UID), group=str(DEFAULT_UID), permissions="0400")],
            tmpfs={"/tmp": "rw,noexec,nosuid,size=64m"},
            memory=memory_mib,
            memory_swap=memory_mib,  # no swap: a swapping edge box is slower than a clear OOM
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=_ready_check(), interval="30s", timeout="5s", retries=3,
                start_period=f"{START_BUDGET_SECONDS}s", start_interval="5s",
            ),
            restart="unless-stopped",
            **hardening,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[download])),
        )
        self.containers = {"server": server, "download": download}
        host = "127.0.0.1" if args.publish_address in ("0.0.0.0", "::") else args.publish_address  # noqa: S104
        return pulumi.Output.from_input(f"http://{host}:{args.port}/v1")

    # ------------------------------------------------------------------------------ kubernetes
    def _kubernetes(self, args: OnnxEdgeNodeArgs, namespace: str, storage_class: str | None,
                    api_key: pulumi.Input[str], hf_token: pulumi.Input[str] | None,
                    probers: list[tuple[dict[str, str], dict[str, str] | None]],
                    child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        from components.onnx_edge.k8s import edge_workload

        return edge_workload(self, args, namespace=namespace, storage_class=storage_class, api_key=api_key,
                             hf_token=hf_token, probers=probers, opts=child)


def _label_value(value: str) -> str:
    """A label value (<= 63 characters, alphanumeric ends)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:63].strip("-_.")

