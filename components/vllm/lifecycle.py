"""The lifecycle of one VllmService: its cache per revision, the cache-fill Job, the rollout, smoke and benchmark.

* **Cache.** One PVC per revision, ``<name>-cache-<key>`` (``key``: the first 12 hex of the checkpoint sha,
  plus a hash of the adapters' revisions when there are adapters), ReadWriteMany when more than one replica
  can run or a surge/blue-green rollout overlaps two pods, else ReadWriteOnce. A ``source.prefilledClaim``
  replaces it (no PVC, no Job).
* **Fill.** ``<name>-fill-<key>``: ``hf download <repo> --revision <sha> --include <patterns>`` into
  ``HF_HOME=/models`` (or ``aws s3 sync`` from a bucket), then ``verify_download.py`` against the hub's
  published sizes and checksums (or the bucket's manifest); adapters get the same two steps. The serving
  Deployment ``depends_on`` the Job, so a new revision's cache is full and verified before any serving pod
  moves.
* **Reclaim rule.** A cache lives exactly as long as the program declares its revision: when the stack moves
  to another revision, the old PVC and Job leave the program and Pulumi deletes them at the end of that
  ``pulumi up``, after the new Deployment is ready (deletes run last; the PVC-protection finalizer keeps the
  volume until the last pod using it is gone). A failed update deletes nothing.
* **Rollout.** ``surge`` (maxSurge 1, maxUnavailable 0) needs ``cluster.spareGpus`` >= the pod's GPUs;
  ``blue-green`` runs one Deployment per revision (``<name>-<key>``), and the Service selects the new one
  only after Pulumi has seen it ready; ``recreate`` is the documented downtime (one replica: Recreate;
  more: one pod at a time, maxUnavailable 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import (
    AffinityArgs,
    PodAffinityArgs,
    PodAffinityTermArgs,
    WeightedPodAffinityTermArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs

from components.context import StackContext
from components.lifecycle.cache_fill import (
    CacheFill, FillStep, SCRIPTS_MOUNT, cache_claim, cache_fill_job, revision_key, source_egress,
)
from components.lifecycle.verification import spec_key
from components.placement import taint_toleration
from components.versions import image as pinned_image

__all__ = ["ROLLOUT_LABEL", "CachePlan", "cache_plan", "fill_env", "fill_job", "rollout_strategy", "resolved_rollout", "run_benchmark"]

ROLLOUT_LABEL = "slm-deploy.io/revision"
"""Pod label of a blue/green colour (the cache key); the Service selects it once that colour is ready."""

HF_TOKEN_DIR = "/etc/hf-token"
CA_DIR = "/etc/slm-deploy/ca"
S3_DIR = "/etc/slm-deploy/s3"
_GiB = 1024**3


@dataclass(frozen=True)
class CachePlan:
    key: str
    claim: str
    rwx: bool
    created: bool
    """False for a pre-filled claim (named in the stack, not created here)."""


def resolved_rollout(args, ctx: StackContext) -> str:
    """The rollout in effect: the stack's choice, else surge with declared spare GPUs, else recreate."""
    if args.rollout:
        return args.rollout
    return "surge" if ctx.cluster.spare_gpus >= args.gpus else "recreate"


def cache_plan(args, ctx: StackContext) -> CachePlan:
    repo, rev = args.checkpoint
    key = revision_key(str(rev))
    if args.lora_adapters:
        key = f"{key[:8]}-{spec_key([(a.hf_repo, a.revision) for a in args.lora_adapters])[:4]}"
    if args.source.prefilled_claim:
        return CachePlan(key, args.source.prefilled_claim, rwx=True, created=False)
    overlap = args.max_replicas_resolved > 1 or resolved_rollout(args, ctx) in ("surge", "blue-green")
    rwx = overlap and bool(ctx.cluster.rwx_storage_class)
    return CachePlan(key, f"{args.name}-cache-{key}", rwx=rwx, created=True)


def cache_pvc(args, ctx: StackContext, cache: CachePlan, labels: dict[str, str], opts: pulumi.ResourceOptions):
    return cache_claim(cache.claim, ctx.namespace, labels, size=f"{args.cache_gib}Gi", rwx=cache.rwx,
                       storage_class=ctx.cluster.storage_class, rwx_storage_class=ctx.cluster.rwx_storage_class, opts=opts)


def _hub_steps(repo: str, rev: str, include: list[str], local_dir: str | None, step: str) -> list[FillStep]:
    where = ["--local-dir", local_dir] if local_dir else []
    verify_where = ["--local-dir", local_dir] if local_dir else ["--cache-dir", "/models/hub"]
    return [
        # One --include with every pattern: huggingface_hub < 1.0 (the v0.11 image) parses --include with
        # nargs="*" (cli/download.py:75), where a repeated --include keeps only the last.
        FillStep(f"download{step}", ["hf", "download", repo, "--revision", rev, *where, "--include", *include]),
        FillStep(f"verify{step}", ["python3", f"{SCRIPTS_MOUNT}/verify_download.py", "--repo", repo, "--revision", rev,
                                   *verify_where, "--include", *include]),
    ]


def _s3_steps(args, repo: str, rev: str) -> list[FillStep]:
    s3 = args.source.s3
    snapshot = f"/models/hub/models--{repo.replace('/', '--')}/snapshots/{rev}"
    aws = pinned_image("aws-cli")
    env = {"AWS_SHARED_CREDENTIALS_FILE": f"{S3_DIR}/credentials", "AWS_CONFIG_FILE": "/tmp/aws-config",
           "AWS_REGION": s3.region, "AWS_EC2_METADATA_DISABLED": "true",
           # S3-compatible stores reject or mis-answer the checksums aws-cli >= 2.23 adds by default
           # (boto3/botocore configuration: AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION).
           "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}
    if args.source.ca_bundle_secret:
        env["AWS_CA_BUNDLE"] = f"{CA_DIR}/ca.crt"
    return [
        FillStep("fetch", ["aws", "s3", "sync", f"s3://{s3.bucket}/{s3.prefix}", snapshot, "--endpoint-url", s3.endpoint,
                           "--only-show-errors", "--no-progress"], image=aws.ref, env=env),
        FillStep("verify", ["python3", f"{SCRIPTS_MOUNT}/verify_download.py", "--repo", repo, "--revision", rev,
                            "--local-dir", snapshot, "--manifest", f"{snapshot}/{s3.manifest}",
                            "--include", *args.download_patterns]),
    ]


def fill_env(source, with_token: bool) -> dict[str, str]:
    """Environment of the hub download and verify steps (each variable cited in docs/vllm.md, "Upstream evidence
    for the environment"; the S3 step adds its own aws-cli settings)."""
    env = {"HF_HOME": "/models", "HF_HUB_DISABLE_TELEMETRY": "1", "HOME": "/tmp/home", "XDG_CACHE_HOME": "/tmp/.cache"}
    if with_token:
        env["HF_TOKEN_PATH"] = f"{HF_TOKEN_DIR}/token"
    if source.mirror:
        # huggingface_hub constants.py:67 reads HF_ENDPOINT; Xet storage is the public hub's CAS, which a
        # mirror does not serve, so downloads go through plain HTTP (constants.py:294 HF_HUB_DISABLE_XET).
        env.update({"HF_ENDPOINT": source.mirror, "HF_HUB_DISABLE_XET": "1"})
    if source.ca_bundle_secret:
        # requests (huggingface_hub < 1.0) and the verifier read REQUESTS_CA_BUNDLE; SSL_CERT_FILE for the rest.
        env.update({"REQUESTS_CA_BUNDLE": f"{CA_DIR}/ca.crt", "SSL_CERT_FILE": f"{CA_DIR}/ca.crt"})
    return env


def fill_job(args, ctx: StackContext, cache: CachePlan, *, server_selector: dict[str, str], with_token: bool,
             gpu_affinity: AffinityArgs, scripts_config_map: str, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job | None:
    """The cache-fill Job of this revision (None with a pre-filled claim); ``gpu_affinity`` is the server's."""
    if not cache.created:
        return None

    img = pinned_image(args.image)
    repo, rev = args.checkpoint
    source = args.source
    env = fill_env(source, with_token)
    secret_files = []
    if with_token:
        secret_files.append(("hf-token", f"{args.name}-hf-token", HF_TOKEN_DIR, {"token": "token"}))
    if source.ca_bundle_secret:
        secret_files.append(("ca-bundle", source.ca_bundle_secret, CA_DIR, {"ca.crt": "ca.crt"}))
    if source.s3:
        secret_files.append(("s3-credentials", source.s3.credentials_secret, S3_DIR, {"credentials": "credentials"}))
        steps = _s3_steps(args, repo, str(rev))
    else:
        steps = _hub_steps(repo, str(rev), args.download_patterns, None, "")
    for adapter in args.lora_adapters:
        steps += _hub_steps(adapter.hf_repo, adapter.revision, args.download_patterns,
                            f"/models/lora/{adapter.name}", f"-lora-{adapter.name}")
    cluster = ctx.cluster
    # On the GPU nodes, where the serving image is pulled anyway; no GPU is requested (hf download and the
    # verifier do not use one). With a ReadWriteOnce cache, prefer the serving pods' node (the volume
    # attaches to one node at a time, and a re-run of the Job meets the running server there).
    pod_affinity = None if cache.rwx else PodAffinityArgs(preferred_during_scheduling_ignored_during_execution=[
        WeightedPodAffinityTermArgs(weight=100, pod_affinity_term=PodAffinityTermArgs(
            label_selector=LabelSelectorArgs(match_labels=server_selector), topology_key="kubernetes.io/hostname"))])
    placement = {
        "affinity": AffinityArgs(node_affinity=gpu_affinity.node_affinity, pod_affinity=pod_affinity),
        "tolerations": [taint_toleration(cluster.gpu_taint_key)],
    }
    fill = CacheFill(
        app="vllm", instance=args.name, job_name=f"{args.name}-fill-{cache.key}", namespace=ctx.namespace,
        part_of=ctx.part_of, image=img.ref, version=img.tag, steps=steps, claim=cache.claim, mount_path="/models",
        env=env, download_bytes=args.cache_gib * _GiB * 2 // 3,
        egress=source_egress([source.port], source.egress_cidrs, cluster.api_server_cidrs),
        scripts_config_map=scripts_config_map, secret_files=secret_files, pod_spec_extra=placement,
        external_secrets=[s for s in (source.ca_bundle_secret, source.s3.credentials_secret if source.s3 else None) if s],
    )
    return cache_fill_job(fill, opts)


def rollout_strategy(args, ctx: StackContext) -> dict:
    """The Deployment strategy of the rollout in effect (blue-green: how a colour changes in place)."""
    rollout = resolved_rollout(args, ctx)
    if rollout == "surge":
        return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    if args.max_replicas_resolved == 1:
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def run_benchmark(args, ctx: StackContext, workload, bench, *, opts: pulumi.ResourceOptions) -> pulumi.Output:
    """The benchmark Job after the smoke-tested rollout, through ``workload.endpoint`` (the service's proxy or
    the gateway, as clients call it); returns the read-back report (measured vs predicted)."""
    from components.catalog import get_gpu
    from components.lifecycle.benchmark import BenchmarkTarget, benchmark_job, predicted

    img = pinned_image(args.image)
    repo, rev = args.checkpoint
    plan = args.plan
    endpoint = workload.endpoint
    target = BenchmarkTarget(
        instance=args.name, namespace=ctx.namespace, part_of=ctx.part_of, image=img.ref, version=img.tag,
        base_url=endpoint.base_url, served_model=args.served_name,
        tokenizer_dir=f"/models/hub/models--{repo.replace('/', '--')}/snapshots/{rev}",
        cache_claim=workload.cache.claim, cache_rwx=workload.cache.rwx, server_selector=workload.selector,
        peer_selector=endpoint.pod_selector, peer_port=endpoint.port, api_key_secret=endpoint.key_secret,
        concurrency=plan.max_num_seqs, max_model_len=plan.max_model_len,
        placement={"tolerations": [taint_toleration(ctx.cluster.gpu_taint_key)]},
        api_server_cidrs=tuple(ctx.cluster.api_server_cidrs),
    )
    prediction = predicted(plan, get_gpu(args.gpu).memory_bandwidth_gbs)
    depends = [*workload.serving, *endpoint.ready]
    _, report = benchmark_job(target, bench, prediction, f"{args.name}-lifecycle",
                              pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends)),
                              key=spec_key(img.ref, args.engine_args(), workload.cache.key, bench.model_dump()))
    return report
