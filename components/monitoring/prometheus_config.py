"""Prometheus configuration and rule files, built as data from the stack's contributions.

One scrape job per :class:`ScrapeTarget` (pods found by Kubernetes service
discovery, kept by their labels and port name) and one blackbox job per
:class:`ProbeTarget`; one rule group per contribution. Nothing here lists a
component: a second VllmService is a second contribution, hence a second job and
a second rule group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from components.observability import AlertThresholds, MonitoringContribution, ProbeTarget, ScrapeTarget

__all__ = [
    "DURATION",
    "pod_scrape_config",
    "probe_scrape_config",
    "probe_labels",
    "scrape_configs",
    "prometheus_config",
    "rule_groups",
    "to_yaml",
    "to_yaml_reference",
    "check_unique",
]

DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
"""A Prometheus duration (``30s``, ``5m``, ``1h30m``)."""


def _meta_label(label: str) -> str:
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", label)


def pod_scrape_config(
    target: ScrapeTarget, *, stack_namespace: str, part_of: str, scrape_interval: str
) -> dict[str, Any]:
    """Kubernetes pod discovery in the target's namespace, kept by selector labels and port name."""
    external = target.namespace != stack_namespace
    selector = dict(target.pod_selector)
    if not external:
        selector.setdefault("app.kubernetes.io/part-of", part_of)
    keep = [
        {"source_labels": [_meta_label(k)], "regex": re.escape(v), "action": "keep"} for k, v in sorted(selector.items())
    ]
    return {
        "job_name": target.job,
        "scrape_interval": scrape_interval,
        "metrics_path": target.path,
        "scheme": "http",
        # Exporters that describe other pods (dcgm-exporter, kube-state-metrics) carry their own
        # namespace/pod labels; keep those instead of renaming them to exported_*.
        "honor_labels": external,
        "kubernetes_sd_configs": [
            {
                "role": "pod",
                "namespaces": {"names": [target.namespace]},
                "selectors": [{"role": "pod", "label": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}],
            }
        ],
        "relabel_configs": [
            *keep,
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": re.escape(target.port_name), "action": "keep"},
            # Pending pods are not scraped, so they have no `up` series: VllmNoTargetUp (absent(up)) covers them.
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Pending|Succeeded|Failed", "action": "drop"},
            # Every rule and panel selects namespace="<ns>"; honor_labels keeps an exporter's own namespace label.
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        ],
    }


def probe_labels(target: ProbeTarget, stack_namespace: str) -> dict[str, str]:
    """The target labels of a probe: its own, plus ``namespace`` (the stack's) so namespace-scoped rules match."""
    return dict(sorted({"namespace": stack_namespace, **target.labels}.items()))


def probe_scrape_config(target: ProbeTarget, *, blackbox_address: str, scrape_interval: str, stack_namespace: str) -> dict[str, Any]:
    """A blackbox-exporter job probing ``target.url`` with ``target.module``."""
    static: dict[str, Any] = {"targets": [target.url], "labels": probe_labels(target, stack_namespace)}
    return {
        "job_name": target.job,
        "scrape_interval": scrape_interval,
        "metrics_path": "/probe",
        "params": {"module": [target.module]},
        "static_configs": [static],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": blackbox_address},
        ],
    }


def check_unique(contributions: Sequence[MonitoringContribution]) -> None:
    """Sources and job names must be unique in a stack (they name rule groups and jobs)."""
    seen_sources: set[str] = set()
    seen_jobs: set[str] = set()
    for c in contributions:
        if c.source in seen_sources:
            raise ValueError(f"two monitoring contributions share the source {c.source!r}; give each serving component its own name")
        seen_sources.add(c.source)
        for job in [t.job for t in c.scrape_targets] + [p.job for p in c.probe_targets]:
            if job in seen_jobs:
                raise ValueError(f"two scrape targets share the job name {job!r}; job names must be unique in a stack")
            seen_jobs.add(job)


def scrape_configs(
    contributions: Sequence[MonitoringContribution],
    *,
    stack_namespace: str,
    part_of: str,
    scrape_interval: str,
    blackbox_address: str | None,
) -> list[dict[str, Any]]:
    """Every contribution's scrape and probe jobs, in contribution order."""
    jobs: list[dict[str, Any]] = []
    for c in contributions:
        for t in c.scrape_targets:
            jobs.append(pod_scrape_config(t, stack_namespace=stack_namespace, part_of=part_of, scrape_interval=scrape_interval))
        for p in c.probe_targets:
            if blackbox_address is None:
                raise ValueError(f"contribution {c.source!r} has probe targets but no blackbox exporter is configured")
            jobs.append(probe_scrape_config(p, blackbox_address=blackbox_address, scrape_interval=scrape_interval, stack_namespace=stack_namespace))
    return jobs


def prometheus_config(
    jobs: list[dict[str, Any]],
    *,
    scrape_interval: str,
    evaluation_interval: str,
    rule_files: list[str],
    alertmanager_address: str,
    external_labels: dict[str, str],
) -> dict[str, Any]:
    """The whole prometheus.yml as data."""
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "external_labels": dict(sorted(external_labels.items())),
        },
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_address]}]}]},
        "rule_files": rule_files,
        "scrape_configs": jobs,
    }


def rule_groups(contributions: Sequence[MonitoringContribution], thresholds: AlertThresholds, interval: str) -> list[dict[str, Any]]:
    """One rule group per contribution (``slm-<source>``); every rule has for, severity, summary, description, runbook."""
    groups = []
    for c in contributions:
        rules = []
        for r in c.alert_rules(thresholds):
            rules.append(
                {
                    "alert": r.name,
                    "expr": r.expr,
                    "for": r.for_,
                    "labels": {"severity": r.severity, "source": c.source},
                    "annotations": {"summary": r.summary, "description": r.description, "runbook": r.runbook},
                }
            )
        if rules:
            groups.append({"name": f"slm-{c.source}", "interval": interval, "rules": rules})
    return groups


def _literal_if_multiline(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


class _Dumper(yaml.SafeDumper):
    """PyYAML's pure-Python emitter: the reference output."""


class _CDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter with the same representers (about twice as fast on a 100-service rule file)."""


for _dumper in (_Dumper, _CDumper):
    _dumper.add_representer(str, _literal_if_multiline)

_OPTIONS = {"sort_keys": False, "default_flow_style": False, "width": 1000}


def _plain_text_only(data: Any) -> bool:
    """Every string in ``data`` (keys too) is non-empty, one-line, printable ASCII. Such text is written plain or
    single-quoted, where libyaml and PyYAML write the same bytes; they differ on double-quoted text (folding), empty
    keys and kept trailing line breaks, which go to PyYAML. tests/components/monitoring/test_prometheus_yaml.py
    compares both on generated data."""
    if isinstance(data, str):
        return bool(data) and data.isascii() and data.isprintable()
    if isinstance(data, dict):
        return all(_plain_text_only(k) and _plain_text_only(v) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return all(_plain_text_only(v) for v in data)
    return True


def to_yaml(data: Any) -> str:
    """Stable YAML (keys in insertion order, as Prometheus documents them); PyYAML's bytes, from libyaml where they
    are the same."""
    fast = isinstance(data, dict) and _plain_text_only(data)  # a top-level scalar ends differently ('...')
    return yaml.dump(data, Dumper=_CDumper if fast else _Dumper, **_OPTIONS)


def to_yaml_reference(data: Any) -> str:
    """The same YAML, always from PyYAML's pure-Python emitter (what :func:`to_yaml` must equal)."""
    return yaml.dump(data, Dumper=_Dumper, **_OPTIONS)
