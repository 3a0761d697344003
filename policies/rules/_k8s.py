"""Helpers over one Kubernetes object (plain dict, camelCase, as rendered or as Pulumi inputs)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from policies.rules._types import NA, Result
from policies.rules._identify import (
    AUTH_PROXY_CONTAINER,
    has_model_server_label,
    is_chat_ui_image,
    is_model_server_image,
)

TEMPLATE_KINDS = (
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "DeploymentConfig",
)
WORKLOAD_KINDS = ("Pod", "PodTemplate", "CronJob") + TEMPLATE_KINDS


def strip_meta(value: Any) -> Any:
    """Drop checkov's `__startline__`/`__endline__` bookkeeping keys, recursively (a copy of every dict and list;
    other values as they are)."""
    if isinstance(value, dict):
        return _strip_dict(value)
    if isinstance(value, list):
        return _strip_list(value)
    return value


def _strip_dict(value: dict) -> dict:
    out = {}
    for k, v in value.items():
        if isinstance(k, str) and k.startswith("__"):
            continue
        t = type(v)  # exact types first: one call per container, none per scalar (a 100-service stack has ~10^6)
        out[k] = _strip_dict(v) if t is dict else _strip_list(v) if t is list else strip_meta(v) if isinstance(
            v, (dict, list)) else v
    return out


def _strip_list(value: list) -> list:
    return [_strip_dict(v) if type(v) is dict else _strip_list(v) if type(v) is list else strip_meta(v)
            if isinstance(v, (dict, list)) else v for v in value]


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def resource_id(obj: dict) -> str:
    meta = as_dict(obj.get("metadata"))
    return f"{obj.get('kind')}.{meta.get('namespace') or 'default'}.{meta.get('name')}"


def namespace(obj: dict) -> str:
    return as_dict(obj.get("metadata")).get("namespace") or "default"


def pod_template(obj: dict) -> tuple[dict, dict] | None:
    """(pod metadata, pod spec) of a workload, or None for non-workloads."""
    kind = obj.get("kind")
    spec = as_dict(obj.get("spec"))
    if kind == "Pod":
        return as_dict(obj.get("metadata")), spec
    if kind == "PodTemplate":
        tpl = as_dict(obj.get("template"))
    elif kind == "CronJob":
        tpl = as_dict(as_dict(as_dict(spec.get("jobTemplate")).get("spec")).get("template"))
    elif kind in TEMPLATE_KINDS:
        tpl = as_dict(spec.get("template"))
    else:
        return None
    return as_dict(tpl.get("metadata")), as_dict(tpl.get("spec"))


def containers(pod_spec: dict, init: bool = True) -> list[dict]:
    found = [c for c in as_list(pod_spec.get("containers")) if isinstance(c, dict)]
    if init:
        found += [c for c in as_list(pod_spec.get("initContainers")) if isinstance(c, dict)]
    return found


def judge_containers(obj: dict, problems_of: Callable[[dict, dict], list[str] | None], *, init: bool = True) -> Result:
    """A per-container check of a workload: ``problems_of(container, pod_spec)`` is None for a container the check
    does not apply to, else its problems, reported as ``container 'name': problem``. Not applicable without a
    pod template or without a container it applies to."""
    tpl = pod_template(obj)
    if not tpl:
        return NA
    applicable, problems = False, []
    for c in containers(tpl[1], init=init):
        found = problems_of(c, tpl[1])
        if found is None:
            continue
        applicable = True
        problems += [f"container {c.get('name')!r}: {p}" for p in found]
    return Result.judge(applicable, problems)


def pod_labels(obj: dict) -> dict:
    tpl = pod_template(obj)
    return as_dict(tpl[0].get("labels")) if tpl else {}


def is_model_server_container(container: dict, labels: dict) -> bool:
    """By image first; by the component label only for the main (non-proxy) container."""
    if is_model_server_image(container.get("image")):
        return True
    return has_model_server_label(labels) and container.get("name") != AUTH_PROXY_CONTAINER


RUN_TO_COMPLETION_KINDS = ("Job", "CronJob")
"""Kinds that run to completion (cache fills, smoke tests, benchmarks): never a serving workload."""


def is_serving_workload(obj: dict) -> bool:
    if obj.get("kind") in RUN_TO_COMPLETION_KINDS:
        return False
    tpl = pod_template(obj)
    if not tpl:
        return False
    meta, spec = tpl
    if has_model_server_label(as_dict(meta.get("labels"))) or has_model_server_label(
        as_dict(as_dict(obj.get("metadata")).get("labels"))
    ):
        return True
    return any(
        is_model_server_image(c.get("image")) or is_chat_ui_image(c.get("image")) for c in containers(spec, init=False)
    )


@dataclass(frozen=True)
class EnvVar:
    """One environment entry, normalised for Kubernetes and compose alike."""

    name: str
    value: str | None  # literal value, None when not a literal
    source: str  # literal | secretKeyRef | configMapKeyRef | fieldRef | resourceFieldRef | host


def container_env(container: dict) -> list[EnvVar]:
    out = []
    for entry in as_list(container.get("env")):
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        value_from = as_dict(entry.get("valueFrom"))
        if value_from:
            out.append(EnvVar(str(entry["name"]), None, next(iter(value_from), "valueFrom")))
        else:
            value = entry.get("value")
            out.append(EnvVar(str(entry["name"]), "" if value is None else str(value), "literal"))
    return out


def env_from_secrets(container: dict) -> list[str]:
    return [
        str(as_dict(e.get("secretRef")).get("name"))
        for e in as_list(container.get("envFrom"))
        if isinstance(e, dict) and e.get("secretRef")
    ]


def literal_env(env: list[EnvVar], name: str) -> str | None:
    for var in env:
        if var.name == name and var.source == "literal":
            return var.value
    return None


def volume_is_secret(volume: dict) -> bool:
    if volume.get("secret"):
        return True
    csi = as_dict(volume.get("csi"))
    if csi.get("driver") == "secrets-store.csi.k8s.io":
        return True
    sources = as_list(as_dict(volume.get("projected")).get("sources"))
    return bool(sources) and all(isinstance(s, dict) and "secret" in s for s in sources)


def volumes_by_name(pod_spec: dict) -> dict[str, dict]:
    return {v["name"]: v for v in as_list(pod_spec.get("volumes")) if isinstance(v, dict) and v.get("name")}


def mounts(container: dict, pod_spec: dict) -> Iterator[tuple[dict, dict]]:
    """(volumeMount, volume) pairs of a container."""
    vols = volumes_by_name(pod_spec)
    for mount in as_list(container.get("volumeMounts")):
        if isinstance(mount, dict) and mount.get("name") in vols:
            yield mount, vols[mount["name"]]


def secret_mount_paths(container: dict, pod_spec: dict) -> list[str]:
    return [str(m.get("mountPath")) for m, v in mounts(container, pod_spec) if volume_is_secret(v) and m.get("mountPath")]


def path_covered(path: str, mount_paths: list[str]) -> bool:
    """True when `path` is a mount point itself (subPath file mount) or lies under one."""
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mount_paths)


def container_argv(container: dict) -> list[str]:
    return [str(x) for x in as_list(container.get("command")) + as_list(container.get("args"))]


def selector_matches(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels + matchExpressions); an empty selector matches everything."""
    for key, value in as_dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        if not isinstance(expr, dict):
            return False
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in as_list(expr.get("values"))]
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
