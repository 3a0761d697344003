"""Shared builders for the monitoring tests (not a test module)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pulumi
import pytest

from components.monitoring import MonitoringStack, MonitoringStackArgs
from components.probe_monitoring import probe_contribution
from components.vllm.monitoring import vllm_contribution
from slm_deploy.render import render
from slm_deploy.synth import SynthResult, synthesize
from components.context import ClusterCapabilities, StackContext

NS = "slm-test"

CHECKER_TIMEOUT_S = 300
"""Bound on one run of an upstream checker (promtool, amtool). A run takes well under a second on an idle machine, so
this only stops a hung checker; it is generous because the suite's two workers and other work share two cores
(a 60 s bound flaked under load)."""


def run_checker(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run an upstream checker; a timeout fails the test with the command and the load average (not a traceback)."""
    try:
        return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=CHECKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        pytest.fail(f"{Path(args[0]).name} {' '.join(args[1:3])} did not finish within {CHECKER_TIMEOUT_S} s "
                    f"(1/5/15-min load average {load}): the machine is overloaded or the checker hangs", pytrace=False)


def build_reference(result: SynthResult, out: Path) -> Path:
    """Render a reference stack's synth result (the session's ``synthesized(stack)``) to ``out``."""
    render(result, out)
    return out


def custom_contributions(n_vllm: int = 2) -> list:
    contributions = [
        vllm_contribution(f"llm-{i}", NS, {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": f"llm-{i}"}, "metrics", [f"model-{i}"])
        for i in range(n_vllm)
    ]
    contributions.append(probe_contribution("ollama", "ollama", "ollama-probe", f"http://ollama.{NS}.svc:8080/api/version"))
    contributions.append(
        probe_contribution("edge-1", "onnx", "edge-1-probe", "http://edge-1.example.internal:8000/health", namespace=NS, pod_regex="edge-1-.*")
    )
    return contributions


def synth_custom(mode: str, *, contributions: list | None = None, args: dict | None = None, webhook: bool = True,
                 cluster: dict | None = None) -> SynthResult:
    contributions = custom_contributions() if contributions is None else contributions

    def program() -> None:
        MonitoringStack(
            "monitoring",
            MonitoringStackArgs.model_validate({"mode": mode, "dcgm": {}, **(args or {})}),
            StackContext(namespace=NS, part_of="slm-deploy", cluster=ClusterCapabilities.model_validate(
                {"prometheusOperator": mode == "operator", **(cluster or {})})),
            contributions=contributions,
            grafana_admin_password=None,
            alert_webhook_url=pulumi.Output.secret("https://hooks.example.com/alert") if webhook else None,
        )

    return synthesize(program, project="slm-deploy", stack="t", config={})


def build_custom(out: Path, *, mode: str, **kw) -> Path:
    render(synth_custom(mode, **kw), out)
    return out


def dashboard_files(build: Path) -> list[Path]:
    """The rendered dashboards: the standalone Grafana's ConfigMap, or one sidecar ConfigMap per dashboard (operator)."""
    files = sorted(build.glob("files/monitoring-grafana-dashboards/*.json")) + sorted(build.glob("files/monitoring-dashboard-*/*.json"))
    names = [f.name for f in files]
    assert len(names) == len(set(names)), f"a dashboard is rendered twice: {names}"
    return files
