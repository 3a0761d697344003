"""The apply-validity checks' ids, names and rationales (the stage itself: :mod:`slm_deploy.gate.apply_validity`).

Kept apart so the verdict types (:mod:`slm_deploy.gate.result`) can list them without importing the stage.
"""

from __future__ import annotations

__all__ = ["APPLY_CHECKS"]

APPLY_CHECKS: dict[str, tuple[str, str]] = {
    "SLM_APPLY_METADATA": (
        "Ensure object names, label keys/values, annotation keys and selector labels are what the API server accepts",
        "A name or label the API server refuses fails `pulumi up` halfway through a deployment.",
    ),
    "SLM_APPLY_QUANTITY": (
        "Ensure every resource quantity (requests, limits, sizes) is a valid Kubernetes quantity, requests within limits",
        "'30 GB' or '2 cores' is not a quantity; a request above its limit is refused.",
    ),
    "SLM_APPLY_PORTS": (
        "Ensure container and Service ports are in range, port names are IANA service names and nothing is duplicated",
        "Duplicate or malformed ports are refused by the API server or silently shadowed.",
    ),
    "SLM_APPLY_ENV": (
        "Ensure environment variable names are valid and unique within a container",
        "A duplicate variable silently takes the last value; an invalid name is refused.",
    ),
    "SLM_APPLY_VOLUMES": (
        "Ensure pod volumes are unique, every volumeMount names a declared volume, and mount paths are unique",
        "A mount of an undeclared volume is refused by the API server.",
    ),
    "SLM_APPLY_REFERENCES": (
        "Ensure every ConfigMap, Secret, PVC and ServiceAccount a pod references is rendered by the stack or documented as external",
        "A pod referencing an object that does not exist never starts (CreateContainerConfigError / Pending).",
    ),
    "SLM_APPLY_SELECTORS": (
        "Ensure every Service, NetworkPolicy and PodDisruptionBudget selector (and each workload's own) matches a pod template",
        "A selector that matches nothing routes no traffic, protects nothing and is refused on workloads.",
    ),
    "SLM_APPLY_COMPOSE_PORTS": (
        "Ensure no two compose services publish the same host port on overlapping addresses",
        "Docker refuses to start the second container: the port is already allocated.",
    ),
    "SLM_APPLY_COMPOSE_REFERENCES": (
        "Ensure every volume, network, secret, config and dependency a compose service names is declared",
        "Compose refuses a file that references an undeclared volume, network, secret or config.",
    ),
}
