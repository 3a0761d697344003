"""The Pulumi program: load config -> run the gate -> compose components.

``__main__.py`` calls :func:`main`; the offline synth runs the very same
:func:`main` under the mock runtime (with ``gate=None``, because the synth *is*
the gate's input). Nothing is registered before the gate has passed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.namespace import restricted_namespace
from components.observability import MonitoringContribution
from slm_deploy.config import validate_values
from slm_deploy.errors import ConfigError
from stacks.schema import PROJECT, SECRET_KEYS, StackConfig

__all__ = ["read_config", "read_secrets", "compose", "main", "Gate"]

Gate = Callable[[str, dict[str, Any], list[str]], None]
"""``gate(stack, config_values, secret_keys)``: raises pulumi.RunError when the stack must not deploy."""


def _decode(raw: str, annotation: Any) -> Any:
    if annotation is str:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _raw_values() -> dict[str, Any]:
    config = pulumi.Config(PROJECT)
    values: dict[str, Any] = {}
    for name, field in StackConfig.model_fields.items():
        key = field.alias or name
        raw = config.get(key)
        if raw is not None:
            values[key] = _decode(raw, field.annotation)
    return values


def _set_secret_keys() -> list[str]:
    return [k for k in SECRET_KEYS if pulumi.runtime.get_config(f"{PROJECT}:{k}") is not None]


def read_config() -> StackConfig:
    """StackConfig from Pulumi config; problems are named against the stack file."""
    return validate_values(_raw_values(), f"stacks/Pulumi.{pulumi.get_stack()}.yaml")


def read_secrets() -> dict[str, pulumi.Output[str] | None]:
    """Each secret config key as a Pulumi secret output (None when unset)."""
    config = pulumi.Config(PROJECT)
    return {key: config.get_secret(key) for key in SECRET_KEYS}


def compose(cfg: StackConfig, secrets: dict[str, pulumi.Output[str] | None]) -> dict[str, Any]:
    """Compose the stack's components. Returns the stack outputs."""
    outputs: dict[str, Any] = {"target": cfg.target}
    contributions: list[MonitoringContribution] = []
    component_opts = pulumi.ResourceOptions()

    if cfg.target == "kubernetes":
        provider = k8s.Provider("kubernetes", context=cfg.cluster.kube_context, enable_server_side_apply=True)
        namespace = restricted_namespace(cfg.namespace, cfg.part_of, pulumi.ResourceOptions(provider=provider))
        component_opts = pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=[namespace])
        outputs["namespace"] = cfg.namespace

    # Serving components register here, each adding its monitoring contribution.
    _ = (component_opts, contributions)
    return outputs


def main(gate: Gate | None = None) -> None:
    """Entry point of the program. ``gate`` runs before anything is registered."""
    try:
        cfg = read_config()
    except ConfigError as exc:
        raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None
    if gate is not None:
        gate(pulumi.get_stack(), cfg.model_dump(by_alias=True, exclude_defaults=True, mode="json"), _set_secret_keys())
    for key, value in compose(cfg, read_secrets()).items():
        pulumi.export(key, value)
