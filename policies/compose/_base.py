"""Compose check base and helpers (pure Python, no checkov: checkov has no compose framework)."""
from __future__ import annotations

from typing import Any

from policies.rules._k8s import EnvVar, as_dict, as_list
from policies.rules._types import CheckMeta, Result


class ComposeCheck:
    """One check per module in policies/compose/checks; each module ends with `check = TheCheck()`."""

    META: CheckMeta

    def evaluate(self, name: str, service: dict, compose: dict) -> Result:
        raise NotImplementedError


def compose_meta(**kwargs: Any) -> CheckMeta:
    return CheckMeta(framework="compose", **kwargs)


def services(compose: dict) -> dict[str, dict]:
    return {str(k): as_dict(v) for k, v in as_dict(compose.get("services")).items()}


def labels(service: dict) -> dict:
    raw = service.get("labels")
    if isinstance(raw, list):
        return dict(str(x).split("=", 1) if "=" in str(x) else (str(x), "") for x in raw)
    return as_dict(raw)


def env(service: dict) -> list[EnvVar]:
    raw = service.get("environment")
    pairs: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [tuple(str(x).split("=", 1)) if "=" in str(x) else (str(x), None) for x in raw]
    out = []
    for name, value in pairs:
        if value is None:  # `- NAME` / `NAME:` passes the value through from the host environment
            out.append(EnvVar(str(name), None, "host"))
        else:
            out.append(EnvVar(str(name), str(value).lower() if isinstance(value, bool) else str(value), "literal"))
    return out


def secret_paths(service: dict) -> list[str]:
    """Container paths of the compose secrets a service mounts (short syntax -> /run/secrets/<name>)."""
    paths = []
    for entry in as_list(service.get("secrets")):
        if isinstance(entry, str):
            paths.append(f"/run/secrets/{entry}")
        elif isinstance(entry, dict):
            target = str(entry.get("target") or entry.get("source") or "")
            paths.append(target if target.startswith("/") else f"/run/secrets/{target}")
    return paths


def config_texts(service: dict, compose: dict) -> list[str]:
    """The text of every compose config ``service`` mounts that the document carries inline (``content``; the
    gate inlines ``file`` configs first, :func:`policies.compose.runner.inline_config_files`)."""
    configs = as_dict(compose.get("configs"))
    texts = []
    for entry in as_list(service.get("configs")):
        source = entry if isinstance(entry, str) else as_dict(entry).get("source")
        content = as_dict(configs.get(source)).get("content")
        if isinstance(content, str):
            texts.append(content)
    return texts
