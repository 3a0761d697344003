"""Offline synth: run a Pulumi program under the SDK's in-process mock runtime.

This is the *same* program a real ``pulumi preview`` runs; only the engine is
swapped for :class:`pulumi.runtime.Mocks`. Every registration is recorded with its
type, name, parent and inputs. The engine knows no specific component: it
mimics provider behaviour only where a program reads outputs back (Kubernetes
``metadata.name``, image ids, random results).

Each synth gets a fresh event loop and freshly reset runtime settings, so one
process can synthesize several stacks in turn without leaking registrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks, set_mocks
from pulumi.runtime.stack import run_pulumi_func

# The marker the compose translation reads to tell secret uploads from configs (policies/compose/service.py).
from policies.compose.service import SECRET_PLACEHOLDER
from slm_deploy.synth_records import ResourceRecord, SynthResult

__all__ = ["ResourceRecord", "SynthResult", "SynthError", "synthesize", "normalize", "SECRET_PLACEHOLDER"]

SECRET_SIG = "4dabf18193072939515e22adb298388d"

# Kinds that live outside namespaces; every other Kubernetes object gets a namespace.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
        "CustomResourceDefinition", "PriorityClass", "RuntimeClass", "IngressClass",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    }
)


class SynthError(Exception):
    """The program failed (raised, or logged an error) under the mock runtime."""


class _RecordingMocks(Mocks):
    def __init__(self) -> None:
        self.records: list[ResourceRecord] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        if args.resource_id and args.custom is not False and not args.inputs:
            # A read of an existing object (Resource.get, e.g. a benchmark's result ConfigMap): Pulumi applies
            # nothing for it, so it is not recorded; offline there is no live object, so no outputs either.
            return args.resource_id, {}
        inputs = dict(args.inputs)
        self.records.append(ResourceRecord(args.typ, args.name, bool(args.custom), inputs))
        return f"{args.name}-id", _mock_outputs(args.typ, args.name, inputs)

    def call(self, args: MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


def _mock_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs a provider would return that programs commonly read back."""
    outputs = dict(inputs)
    if typ.startswith("kubernetes:") and not typ.startswith("kubernetes:helm"):
        metadata = dict(outputs.get("metadata") or {})
        metadata.setdefault("name", name)
        metadata.setdefault("uid", f"00000000-0000-0000-0000-{abs(hash(name)) % 10**12:012d}")
        outputs["metadata"] = metadata
    elif typ == "docker:index/remoteImage:RemoteImage":
        outputs.setdefault("imageId", inputs.get("name"))
        outputs.setdefault("repoDigest", inputs.get("name"))
    elif typ.startswith("random:index/"):
        outputs.setdefault("result", f"[generated:{name}]")
    return outputs


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def synthesize(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    stock_runtime: bool = False,
) -> SynthResult:
    """Run ``program`` under mocks with ``config`` and return every registered resource, normalized.

    ``stock_runtime``: use the SDK's own mock monitor and stack-trace capture instead of
    :mod:`slm_deploy.synth_runtime` (the same records, slower; tests and benchmarks compare the two).
    """
    from slm_deploy.gc_pause import gc_paused

    with gc_paused():  # see slm_deploy/gc_pause.py: ~30 % of a large synth's CPU went to cycle collections
        return _synthesize(program, project=project, stack=stack, config=config, secret_keys=secret_keys,
                           stock_runtime=stock_runtime)


def _synthesize(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None,
    secret_keys: list[str] | None,
    stock_runtime: bool,
) -> SynthResult:
    from slm_deploy.synth_runtime import FastMockMonitor, fast_runtime

    mocks = _RecordingMocks()
    parents: dict[str, str] = {}
    depends: dict[str, list[str]] = {}
    errors = _ErrorLog()
    logger = logging.getLogger(f"slm_deploy.synth.{stack}")
    logger.propagate = False
    logger.addHandler(errors)

    def record_parent(args: pulumi.ResourceTransformationArgs) -> None:
        parent = args.opts.parent if args.opts else None
        if parent is not None and parent.pulumi_resource_type != "pulumi:pulumi:Stack":
            parents[f"{args.type_}::{args.name}"] = f"{parent.pulumi_resource_type}::{parent.pulumi_resource_name}"
        deps = (args.opts.depends_on if args.opts else None) or []
        if isinstance(deps, pulumi.Resource):
            deps = [deps]
        if isinstance(deps, list):
            depends[f"{args.type_}::{args.name}"] = [
                f"{d.pulumi_resource_type}::{d.pulumi_resource_name}" for d in deps if isinstance(d, pulumi.Resource)
            ]
        return None

    loop = asyncio.new_event_loop()
    previous_loop = _current_loop()
    asyncio.set_event_loop(loop)
    runtime = contextlib.ExitStack()
    fast_in_use = False if stock_runtime else runtime.enter_context(fast_runtime())
    try:
        runtime_settings.reset_options(project=project, stack=stack, preview=True)
        pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys or []))
        set_mocks(mocks, project=project, stack=stack, preview=True, logger=logger,
                  monitor=FastMockMonitor(mocks) if fast_in_use else None)
        runtime_settings.SETTINGS.rpc_manager.clear()
        runtime_settings.SETTINGS.outputs.clear()
        pulumi.runtime.register_stack_transformation(record_parent)
        try:
            loop.run_until_complete(run_pulumi_func(program))
        except SynthError:
            raise
        except Exception as exc:
            raise SynthError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        runtime.close()
        logger.removeHandler(errors)
        loop.close()
        asyncio.set_event_loop(previous_loop)
        runtime_settings.reset_options()
        pulumi.runtime.set_all_config({}, [])
    if errors.messages:
        raise SynthError("; ".join(errors.messages))

    result = SynthResult(project, stack)
    for rec in mocks.records:
        if rec.type == "pulumi:pulumi:Stack":
            continue
        rec.parent = parents.get(rec.key)
        rec.depends_on = depends.get(rec.key, [])
        rec.inputs = normalize(rec.inputs)
        if rec.custom and rec.type.startswith("kubernetes:"):
            _default_metadata(rec)
        if rec.type == "kubernetes:core/v1:Secret":
            _redact_secret_object(rec.inputs)
        result.resources.append(rec)
    # Registration order depends on when outputs resolve; sort for stable output.
    result.resources.sort(key=lambda r: (r.type, r.name))
    return result


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None


SECRET_MARKERS = ("[secret:", "[generated:")
"""Offline, config secrets are ``[secret:<key>]`` and generated ones (random resources)
``[generated:<name>]``: a string carrying one is secret material even outside a secret wrapper."""

REFERENCE_FIELDS = frozenset({
    # pulumi-docker uploads and mounts: where a secret goes, never what it is
    "file", "source", "sourceHash", "permissions", "owner", "group", "executable",
    "containerPath", "volumeName", "target",
    # Kubernetes references: object and key names, paths
    "apiVersion", "kind", "name", "namespace", "secretName", "key", "path", "mountPath", "subPath", "type",
})
"""The only fields whose string values survive inside a secret wrapper: names of Secrets, keys and file
paths. Everything else a secret wrapper holds is secret by type and becomes :data:`SECRET_PLACEHOLDER`."""


def normalize(value: Any, *, secret: bool = False) -> Any:
    """Integral floats -> ints; secret material -> :data:`SECRET_PLACEHOLDER`.

    Secrets are recognised by type, not by content: inside a Pulumi secret wrapper (``secret``), every
    string is replaced except the values of :data:`REFERENCE_FIELDS` (dict keys stay, so structure is
    visible to the gate). A real secret value (a decrypted ``pulumi config set --secret`` value under the
    real engine, or anything derived from it with ``apply``) is always inside such a wrapper, so it can
    never reach a manifest, ``compose.yaml`` ``configs:``, ``files/``, a report, a log or the gate cache.
    The SDK wraps a whole top-level input when any value inside it is secret: a component keeps public
    text (a config file) out of an input that also carries a secret (see the Docker auth proxy, which
    uploads its nginx.conf from the rendered ``files/`` by ``source``). Marker strings
    (:data:`SECRET_MARKERS`) are redacted wherever they appear.
    """
    if type(value) is str:  # the most common value first
        return SECRET_PLACEHOLDER if secret or _has_marker(value) else value
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return normalize(value.get("value"), secret=True)
        if secret:
            return {k: normalize(v, secret=k not in REFERENCE_FIELDS or isinstance(v, (dict, list))) for k, v in value.items()}
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, secret=secret) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and (secret or _has_marker(value)):
        return SECRET_PLACEHOLDER
    return value


def _has_marker(text: str) -> bool:
    for marker in SECRET_MARKERS:
        if marker in text:
            return True
    return False


def _redact_secret_object(inputs: dict[str, Any]) -> None:
    """A Kubernetes Secret's data is secret whatever its source: every value becomes the placeholder."""
    for key in ("data", "stringData"):
        if isinstance(inputs.get(key), dict):
            inputs[key] = {k: SECRET_PLACEHOLDER for k in inputs[key]}


def _default_metadata(rec: ResourceRecord) -> None:
    """Fill what the provider would: a name when auto-named, ``default`` namespace when unset."""
    metadata = rec.inputs.setdefault("metadata", {})
    metadata.setdefault("name", rec.name)
    if rec.inputs.get("kind") not in CLUSTER_SCOPED_KINDS:
        metadata.setdefault("namespace", "default")
