"""pulumi-docker ``Container`` inputs -> the compose service: the one translation.

The offline renderer (slm_deploy/render.py, which writes ``compose.yaml`` for the gate and for
``docker compose``) and the CrossGuard pack (policies/crossguard/slm_rules.py, which judges the same
containers under the real engine) both call :func:`container_service`, so the compose checks judge
the same service either way.

What a single container's inputs cannot say is passed in by the caller: ``build`` (the container runs
an image the stack builds from generated files) and ``depends_on`` (its dependencies' conditions), which
need the other resources of the stack. CrossGuard validates one resource at a time and has neither.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

__all__ = ["CONTAINER_TYPE", "SECRET_PLACEHOLDER", "ComposeService", "container_service", "is_secret_placeholder"]

CONTAINER_TYPE = "docker:index/container:Container"

SECRET_PLACEHOLDER = "[secret]"
"""What a secret value is in resource inputs recorded offline: the synth writes it (never the value), the
translation reads it to make an upload a compose secret (a file under ./secrets/) instead of a config."""


def is_secret_placeholder(content: Any) -> bool:
    return content == SECRET_PLACEHOLDER


@dataclass
class ComposeService:
    """One compose service, plus the top-level ``configs`` (name -> ``{"content": text}`` or
    ``{"file": path}``) and ``secrets`` (names) it uses."""

    service: dict[str, Any]
    configs: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


_SIMPLE = {
    "command": "command", "entrypoints": "entrypoint", "user": "user", "restart": "restart",
    "readOnly": "read_only", "privileged": "privileged", "securityOpts": "security_opt",
    "workingDir": "working_dir", "init": "init", "pidMode": "pid", "ipcMode": "ipc", "usernsMode": "userns_mode",
}


def _ports(ports: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in ports:
        entry = {"target": p["internal"], "protocol": p.get("protocol", "tcp")}
        if p.get("external") is not None:
            entry["published"] = str(p["external"])
        entry["host_ip"] = p.get("ip", "0.0.0.0")
        out.append(entry)
    return out


def _volumes(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for v in inputs.get("volumes") or []:
        kind = "bind" if v.get("hostPath") else "volume"
        entry = {"type": kind, "source": v.get("hostPath") or v.get("volumeName"), "target": v["containerPath"]}
        if v.get("readOnly"):
            entry["read_only"] = True
        out.append(entry)
    for m in inputs.get("mounts") or []:
        entry = {"type": m["type"], "target": m["target"]}
        if m.get("source"):
            entry["source"] = m["source"]
        if m.get("readOnly"):
            entry["read_only"] = True
        if m["type"] == "tmpfs" and (m.get("tmpfsOptions") or {}).get("sizeBytes"):
            entry["tmpfs"] = {"size": m["tmpfsOptions"]["sizeBytes"]}
        out.append(entry)
    return out


def _healthcheck(hc: Mapping[str, Any]) -> dict[str, Any]:
    mapping = {"tests": "test", "interval": "interval", "timeout": "timeout", "retries": "retries", "startPeriod": "start_period"}
    return {mapping[k]: v for k, v in hc.items() if k in mapping}


def _environment(envs: list[Any]) -> dict[str, str | None]:
    """``KEY=value`` entries; a bare ``KEY`` passes the host's value through (None)."""
    return dict(str(e).split("=", 1) if "=" in str(e) else (str(e), None) for e in envs)


def _gpus(gpus: str) -> dict[str, Any]:
    device: dict[str, Any] = {"driver": "nvidia", "capabilities": ["gpu"]}
    if gpus == "all":
        device["count"] = "all"
    else:
        device["device_ids"] = gpus.removeprefix("device=").split(",")
    return {"resources": {"reservations": {"devices": [device]}}}


def container_service(
    inputs: Mapping[str, Any],
    *,
    name: str,
    is_secret: Callable[[Any], bool] = is_secret_placeholder,
    build: dict[str, Any] | None = None,
    depends_on: dict[str, dict[str, str]] | None = None,
    config_file: Callable[[str], str] = str,
) -> ComposeService:
    """The compose service equivalent to one container's inputs (camelCase, as pulumi-docker records them).

    ``name``: the service (and container) name. ``is_secret(content)``: whether an upload's content is a
    secret (becomes a compose secret read from ``./secrets/<name>``, never inlined) rather than a config.
    An upload from a local file (``source``, no ``content``) becomes a config read from
    ``config_file(source)`` (the renderer maps it into the build directory).
    """
    i = inputs
    service: dict[str, Any] = {"container_name": name, "image": i.get("image")}
    if build:
        service["build"] = build
    for src, dst in _SIMPLE.items():
        if src in i:
            service[dst] = i[src]
    if i.get("networkMode") and i["networkMode"] not in ("bridge", "default"):
        service["network_mode"] = i["networkMode"]
    if i.get("envs"):
        service["environment"] = _environment(i["envs"])
    if i.get("ports"):
        service["ports"] = _ports(i["ports"])
    volumes = _volumes(i)
    if volumes:
        service["volumes"] = volumes
    if i.get("tmpfs"):
        service["tmpfs"] = [f"{path}:{opts}" if opts else path for path, opts in sorted(i["tmpfs"].items())]
    caps = i.get("capabilities") or {}
    if caps.get("drops"):
        service["cap_drop"] = caps["drops"]
    if caps.get("adds"):
        service["cap_add"] = caps["adds"]
    if i.get("memory"):
        service["mem_limit"] = f"{int(i['memory'])}m"
    if i.get("memorySwap"):
        service["memswap_limit"] = f"{int(i['memorySwap'])}m"
    if i.get("shmSize"):
        service["shm_size"] = f"{int(i['shmSize'])}m"
    if i.get("healthcheck"):
        service["healthcheck"] = _healthcheck(i["healthcheck"])
    if i.get("labels"):
        service["labels"] = {lab["label"]: lab["value"] for lab in i["labels"]}
    if i.get("networksAdvanced"):
        service["networks"] = {n["name"]: ({"aliases": n["aliases"]} if n.get("aliases") else {}) for n in i["networksAdvanced"]}
    if i.get("gpus"):
        service.setdefault("deploy", {}).update(_gpus(i["gpus"]))
    out = ComposeService(service)
    for up in i.get("uploads") or []:
        item_name = f"{name}-{PurePosixPath(up['file']).name}".replace(".", "-").strip("-")
        if "content" not in up and up.get("source"):
            out.configs[item_name] = {"file": config_file(up["source"])}
            service.setdefault("configs", []).append({"source": item_name, "target": up["file"], "mode": 0o444})
        elif is_secret(up.get("content")):
            out.secrets.append(item_name)
            service.setdefault("secrets", []).append({"source": item_name, "target": up["file"], "mode": 0o440})
        else:
            out.configs[item_name] = {"content": up.get("content", "")}
            service.setdefault("configs", []).append({"source": item_name, "target": up["file"], "mode": 0o444})
    if depends_on:
        service["depends_on"] = depends_on
    return out
