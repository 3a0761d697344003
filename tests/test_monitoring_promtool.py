"""promtool on the real rendered rule files: check rules, and a firing + quiet unit test for every alert."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "promtool"))
from promtool_cases import CASES, build_tests  # noqa: E402

from tests_monitoring_helpers import build_custom, build_reference  # noqa: E402

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: apt-get install -y --no-install-recommends prometheus")


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
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _unit_test(rule_file: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    doc, ids = build_tests(rule_file.name, groups)
    test_file = rule_file.with_suffix(".test.yaml")
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return _promtool("test", "rules", test_file.name, cwd=rule_file.parent), ids


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("monitoring")
    return {
        "staging": build_reference("staging", root / "staging"),
        "prod": build_reference("prod", root / "prod"),
        "custom": build_custom(root / "custom", mode="standalone"),
        "custom-operator": build_custom(root / "custom-operator", mode="operator"),
    }


@pytest.mark.parametrize("build", ["staging", "prod", "custom", "custom-operator"])
def test_promtool_check_rules(builds, build):
    files = _rule_files(builds[build])
    assert files, f"{build} renders no rule file"
    for f in files:
        result = _promtool("check", "rules", f.name, cwd=f.parent)
        assert result.returncode == 0, f"{f}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize("build", ["staging", "prod", "custom", "custom-operator"])
def test_promtool_unit_tests_every_alert(builds, build):
    for f in _rule_files(builds[build]):
        result, ids = _unit_test(f)
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


def test_unit_tests_catch_a_wrong_threshold(builds, tmp_path):
    """Mutation check: a rule whose threshold drifts from the stack's thresholds fails its promtool test."""
    source = builds["staging"] / "files/monitoring-prometheus-rules/slm.rules.yaml"
    groups = yaml.safe_load(source.read_text())["groups"]
    doc, _ = build_tests("slm.rules.yaml", groups)  # inputs from the real thresholds
    for g in groups:
        for r in g["rules"]:
            if r["alert"] == "VllmQueueDepthHigh":
                r["expr"] = r["expr"].rsplit(">", 1)[0] + "> 1000"
    (tmp_path / "slm.rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    result = _promtool("test", "rules", "t.yaml", cwd=tmp_path)
    assert result.returncode != 0 and "VllmQueueDepthHigh" in result.stdout + result.stderr


# `promtool check config` is not run: Debian's promtool is built without Kubernetes service
# discovery ("field kubernetes_sd_configs not found"); test_monitoring_stack.py asserts the
# scrape configs as data instead.
