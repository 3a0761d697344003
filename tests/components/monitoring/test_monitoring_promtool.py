"""promtool on the real rendered rule files: check rules, and a firing + quiet unit test for every alert."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "promtool"))
from promtool_cases import CASES, OTHER_NS, build_tests, stack_thresholds  # noqa: E402

from components.observability import AlertThresholds  # noqa: E402
from tests_monitoring_helpers import build_custom, build_reference, run_checker  # noqa: E402

PROMTOOL = shutil.which("promtool")


@pytest.fixture(autouse=True)
def _promtool_installed():
    """A missing promtool is a failure, not a skip: these tests are the only proof the alerts work."""
    if PROMTOOL is None:
        pytest.fail("promtool not on PATH: `./dev test` installs it (apt-get install -y --no-install-recommends prometheus)")


def _rule_files(build: Path) -> list[Path]:
    """Every rule file the build renders: ConfigMap keys, component files and PrometheusRule specs."""
    files = sorted(build.glob("files/**/*.rules.yaml"))
    for manifest in sorted(build.glob("manifests/*.prometheusrule.*.yaml")):
        spec = yaml.safe_load(manifest.read_text())["spec"]
        out = build / "promrule" / f"{manifest.stem}.rules.yaml"
        out.parent.mkdir(exist_ok=True)
        out.write_text(yaml.safe_dump(spec))
        files.append(out)
    return files


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_checker(PROMTOOL, *args, cwd=cwd)


def _unit_test(rule_file: Path, thresholds: AlertThresholds) -> tuple[subprocess.CompletedProcess, list[str]]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    doc, ids = build_tests(rule_file.name, groups, thresholds)
    test_file = rule_file.with_suffix(".test.yaml")
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return _promtool("test", "rules", test_file.name, cwd=rule_file.parent), ids


@pytest.fixture(scope="module")
def builds(tmp_path_factory, synthesized) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("monitoring")
    return {
        "staging": build_reference(synthesized("staging"), root / "staging"),
        "prod": build_reference(synthesized("prod"), root / "prod"),
        "custom": build_custom(root / "custom", mode="standalone"),
        "custom-operator": build_custom(root / "custom-operator", mode="operator"),
    }


@pytest.mark.parametrize("build", ["staging", "prod", "custom", "custom-operator"])
def test_promtool_check_rules(builds, build):
    files = _rule_files(builds[build])
    assert files, f"{build} renders no rule file"
    result = _promtool("check", "rules", *(str(f.relative_to(builds[build])) for f in files), cwd=builds[build])
    assert result.returncode == 0, f"{files}: {result.stdout}{result.stderr}"  # one promtool run for the build's files
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def _thresholds(build: str) -> AlertThresholds:
    """The thresholds each build was rendered with: the stack file's, or the defaults for the synthetic stacks."""
    return stack_thresholds(build) if build in ("staging", "prod") else AlertThresholds()


def test_reference_thresholds_are_not_the_defaults():
    """The stack files override thresholds, so a rule ignoring them would be caught by the cases below."""
    assert stack_thresholds("prod").queue_depth == 8 and stack_thresholds("prod").ttft_p95_seconds == 1.5
    assert stack_thresholds("prod") != AlertThresholds()


@pytest.mark.parametrize("build", ["staging", "prod", "custom", "custom-operator"])
def test_promtool_unit_tests_every_alert(builds, build):
    files = _rule_files(builds[build])
    # Every rendered copy (ConfigMap key, component file, PrometheusRule spec) holds the same rule groups;
    # promtool unit-tests them once (it is the slowest step of the suite).
    distinct = {json.dumps(yaml.safe_load(f.read_text())["groups"], sort_keys=True): f for f in files}
    assert len(files) >= 2 and len(distinct) == 1, [str(f) for f in files]
    for f in distinct.values():
        result, ids = _unit_test(f, _thresholds(build))
        assert result.returncode == 0, f"{f}: {result.stdout}{result.stderr}"
        groups = yaml.safe_load(f.read_text())["groups"]
        alerts = [(g["name"], r["alert"]) for g in groups for r in g["rules"]]
        for group, alert in alerts:
            assert f"{group}/{alert}/firing" in ids and f"{group}/{alert}/quiet" in ids


def test_every_alert_kind_is_exercised(builds):
    """The four builds together render every alert with a case generator (no dead generators)."""
    seen = set()
    for build in builds.values():
        for f in _rule_files(build):
            seen |= {r["alert"] for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]}
    assert seen == set(CASES)


def test_staging_configmap_rules_match_component_file(builds):
    cm = builds["staging"] / "files/monitoring-prometheus-rules/slm.rules.yaml"
    generated = builds["staging"] / "files/monitoring/rules/slm.rules.yaml"
    assert cm.read_text() == generated.read_text()


def _run(tmp_path: Path, groups: list, thresholds: AlertThresholds) -> subprocess.CompletedProcess:
    (tmp_path / "slm.rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    doc, _ = build_tests("slm.rules.yaml", groups, thresholds)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return _promtool("test", "rules", "t.yaml", cwd=tmp_path)


def _custom_groups(builds) -> list:
    return yaml.safe_load((builds["custom"] / "files/monitoring-prometheus-rules/slm.rules.yaml").read_text())["groups"]


def test_unit_tests_catch_a_wrong_threshold(builds, tmp_path):
    """Mutation check: a rule whose threshold drifts from the stack's thresholds fails its promtool test."""
    source = builds["staging"] / "files/monitoring-prometheus-rules/slm.rules.yaml"
    groups = yaml.safe_load(source.read_text())["groups"]
    for g in groups:
        for r in g["rules"]:
            if r["alert"] == "VllmQueueDepthHigh":
                r["expr"] = r["expr"].rsplit(">", 1)[0] + "> 1000"
    result = _run(tmp_path, groups, stack_thresholds("staging"))
    assert result.returncode != 0 and "VllmQueueDepthHigh" in result.stdout + result.stderr


# threshold key -> (alert it drives, value the rules are rendered with (the default), values the cases are built from)
_MUTATIONS = {
    "queue_depth": ("VllmQueueDepthHigh", (9, 11)),
    "ttft_p95_seconds": ("VllmTtftP95High", (1.96, 2.04)),
    "kv_cache_usage": ("VllmKvCacheHigh", (0.89, 0.91)),
    "preemptions_per_minute": ("VllmPreemptionsRising", (0.95, 1.05)),
    "error_rate": ("VllmErrorRateHigh", (0.048, 0.052)),
    "gpu_memory_usage": ("GpuMemoryNearFull", (0.94, 0.96)),
    "gpu_temperature_celsius": ("GpuTemperatureHigh", (84, 86)),
    "restarts_per_15m": ("PodRestartLooping", (2, 4)),
    "gateway_limited_share": ("GatewayClientAtLimit", (0.098, 0.102)),
    "gateway_auth_failures_per_minute": ("GatewayAuthFailures", (9.5, 10.5)),
}


def test_every_numeric_threshold_has_a_mutation_case():
    numeric = {k for k, f in AlertThresholds.model_fields.items() if f.annotation in (int, float)}
    assert numeric == set(_MUTATIONS)


@pytest.mark.parametrize("key", sorted(_MUTATIONS))
def test_cases_from_another_threshold_fail(builds, tmp_path, key):
    """Rules rendered with the default threshold; cases built from a value just below or above it must fail promtool,
    while cases built from the rendering value pass. (Cases read from the expression could never fail this way.)"""
    alert, values = _MUTATIONS[key]
    # one rule, so promtool stays fast: the first rendered rule for the alert (gateway alerts: prod's, the
    # stack with a gateway; it renders them with the default gateway thresholds)
    prod_groups = [g for f in _rule_files(builds["prod"]) if f.parent.name == "promrule"
                   for g in yaml.safe_load(f.read_text())["groups"]]
    [rule] = [r for g in _custom_groups(builds) + prod_groups for r in g["rules"] if r["alert"] == alert][:1]
    groups = [{"name": "mutation", "rules": [rule]}]
    assert _run(tmp_path, groups, AlertThresholds()).returncode == 0
    for value in values:
        result = _run(tmp_path, groups, AlertThresholds(**{key: value}))
        out = result.stdout + result.stderr
        assert result.returncode != 0, f"{key}={value}: promtool passed cases built from a threshold the rules do not use"
        failed = set(re.findall(r"name: ([^,\n]+),", out)) or {out}
        assert all(alert in f for f in failed), f"{key}={value}: unexpected failures {failed}"


def test_rendered_threshold_follows_the_stack_file(builds, tmp_path):
    """prod renders queueDepth 8: its cases pass with prod's thresholds and fail with the default 10."""
    [rule_file] = [f for f in _rule_files(builds["prod"]) if f.parent.name == "promrule"]
    groups = [{"name": g["name"], "rules": [r for r in g["rules"] if r["alert"] == "VllmQueueDepthHigh"]}
              for g in yaml.safe_load(rule_file.read_text())["groups"]]
    groups = [g for g in groups if g["rules"]]
    assert _run(tmp_path, groups, stack_thresholds("prod")).returncode == 0
    result = _run(tmp_path, groups, AlertThresholds())
    assert result.returncode != 0 and "VllmQueueDepthHigh" in result.stdout + result.stderr


def _series(metric: str, labels: dict, values: str) -> dict:
    return {"series": metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "values": values}


def test_no_target_up_fires_when_pods_were_never_discovered_or_all_down(builds, tmp_path):
    """VllmNoTargetUp: absent `up` (Pending pods are dropped from discovery) and every target down both fire it,
    a live target of the same job in another namespace does not keep it quiet, one live target does."""
    groups = [g for g in _custom_groups(builds) if g["name"] == "slm-llm-0"]
    [rule] = [r for r in groups[0]["rules"] if r["alert"] == "VllmNoTargetUp"]
    assert rule["labels"]["severity"] == "critical"
    (tmp_path / "slm.rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    ours = {"job": "llm-0", "namespace": "slm-test", "pod": "p", "container": "auth-proxy"}
    other = {**ours, "namespace": OTHER_NS}
    firing = [{"exp_labels": {"job": "llm-0", "namespace": "slm-test", "severity": "critical", "source": "llm-0"}}]
    cases = {
        "absent": ([], firing),
        "other-namespace-up": ([_series("up", other, "1x60")], firing),
        "all-down": ([_series("up", ours, "0x60"), _series("up", {**ours, "pod": "q"}, "0x60")], firing),
        "one-up": ([_series("up", ours, "0x60"), _series("up", {**ours, "pod": "q"}, "1x60")], []),
    }
    tests = []
    for name, (series, expected) in cases.items():
        exp = [{**e, "exp_annotations": dict(rule["annotations"])} for e in expected]  # no $labels templates in them
        tests.append({"name": name, "interval": "1m", "input_series": series,
                      "alert_rule_test": [{"eval_time": "40m", "alertname": "VllmNoTargetUp", "exp_alerts": exp}]})
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"rule_files": ["slm.rules.yaml"], "evaluation_interval": "1m", "tests": tests}))
    result = _promtool("test", "rules", "t.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# `promtool check config` is not run: Debian's promtool is built without Kubernetes service
# discovery ("field kubernetes_sd_configs not found"); test_monitoring_stack.py asserts the
# scrape configs as data instead.
