"""The generated monitoring configs and the compose export, each in its own upstream checker:
`amtool check-config` (Alertmanager), `promtool check config` (Prometheus), promtool's PromQL parser on
every dashboard expression, and the Compose Specification's JSON schema.

The Debian checkers are older than the pinned images (promtool 2.42 / amtool 0.25 against Prometheus
v3.5.0 / Alertmanager v0.28.1, components/versions.yaml). Where the old checker lacks something the
pinned version has, the test swaps exactly that and says why; everything else is checked as generated.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.monitoring.dashboards import dashboard_queries
import tests_monitoring_helpers
from tests_monitoring_helpers import build_custom, build_reference, dashboard_files, run_checker

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
DATA = Path(__file__).parents[2] / "data"


@pytest.fixture(scope="module")
def builds(tmp_path_factory, synthesized) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkers")
    out = {stack: build_reference(synthesized(stack), root / stack) for stack in ("dev", "edge", "staging", "prod")}
    out["custom-standalone"] = build_custom(root / "custom-standalone", mode="standalone")
    return out


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_checker(*args, cwd=cwd)


def test_a_checker_that_does_not_finish_fails_with_the_load_not_a_traceback(tmp_path, monkeypatch):
    """The bound on a checker run is generous (a loaded machine is not a broken config), and hitting it says so."""
    assert tests_monitoring_helpers.CHECKER_TIMEOUT_S >= 120
    monkeypatch.setattr(tests_monitoring_helpers, "CHECKER_TIMEOUT_S", 0.001)
    rules = tmp_path / "r.rules.yaml"
    rules.write_text("groups: []\n")
    with pytest.raises(pytest.fail.Exception) as failed:
        _run(PROMTOOL, "check", "rules", str(rules), cwd=tmp_path)
    assert "promtool check rules did not finish within 0.001 s (1/5/15-min load average " in str(failed.value)


def _files(builds: dict[str, Path], pattern: str) -> list[Path]:
    return sorted(p for b in builds.values() for p in b.glob(pattern))


# --------------------------------------------------------------------------- Alertmanager
def test_amtool_accepts_every_generated_alertmanager_config(builds, tmp_path):
    assert AMTOOL, "amtool not on PATH: `./dev test` installs it (apt-get install prometheus-alertmanager)"
    configs = _files(builds, "files/**/alertmanager.yml")
    assert {c.parents[2].name for c in configs} >= {"staging", "custom-standalone"}
    for config in configs:
        doc = yaml.safe_load(config.read_text())
        # Debian's amtool 0.25 predates webhook `url_file` (Alertmanager v0.28.1, the pinned image, has it:
        # config/notifiers.go:532, see docs/monitoring.md), so for amtool only, each webhook's url_file
        # becomes a url. Everything else is checked as generated.
        for receiver in doc.get("receivers", []):
            for hook in receiver.get("webhook_configs", []):
                assert hook.pop("url_file").startswith("/"), hook
                hook["url"] = "https://alerts.invalid/hook"
        checked = tmp_path / f"{config.parents[2].name}-alertmanager.yml"
        checked.write_text(yaml.safe_dump(doc))
        result = _run(AMTOOL, "check-config", str(checked), cwd=tmp_path)
        assert result.returncode == 0, f"{config}: {result.stdout}{result.stderr}"


def test_amtool_refuses_a_broken_config(tmp_path):
    """The checker is live: a route naming a receiver that does not exist fails."""
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(yaml.safe_dump({"route": {"receiver": "nowhere"}, "receivers": [{"name": "default"}]}))
    assert _run(AMTOOL, "check-config", str(broken), cwd=tmp_path).returncode != 0


# --------------------------------------------------------------------------- Prometheus
def _for_promtool(config: Path, out_dir: Path) -> Path:
    doc = yaml.safe_load(config.read_text())
    # Debian's promtool is built without Kubernetes service discovery and rejects kubernetes_sd_configs
    # (docs/facts.md, docs/monitoring.md), so for the check each one becomes an equivalent-shaped static_configs; the
    # relabelling, jobs, intervals, alerting and everything else are checked as generated.
    for job in doc.get("scrape_configs", []):
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["127.0.0.1:9"]}]
    # The rule files are mounted at /etc/prometheus/rules in the pod: point the glob at the rendered ones so
    # promtool loads and checks them too.
    rules = sorted(config.parents[1].glob("*/*.rules.yaml"))
    assert rules, f"no rendered rule files next to {config}"
    doc["rule_files"] = [str(r) for r in rules] if doc.get("rule_files") else []
    out = out_dir / f"{config.parents[2].name}-prometheus.yml"
    out.write_text(yaml.safe_dump(doc))
    return out


def test_promtool_accepts_every_generated_prometheus_config(builds, tmp_path):
    assert PROMTOOL, "promtool not on PATH: `./dev test` installs it (apt-get install prometheus)"
    configs = _files(builds, "files/**/prometheus.yml")
    assert {c.parents[2].name for c in configs} >= {"staging", "custom-standalone"}
    for config in configs:
        result = _run(PROMTOOL, "check", "config", str(_for_promtool(config, tmp_path)), cwd=tmp_path)
        assert result.returncode == 0, f"{config}: {result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout and "rules found" in result.stdout


# --------------------------------------------------------------------------- dashboards' PromQL
GRAFANA_INTERVALS = ("$__rate_interval", "$__interval", "$__range", "${__rate_interval}", "${__interval}", "${__range}")


def _harmless(expr: str) -> str:
    """Dashboard variables set to harmless values: intervals 5m, any other $var / ${var} / [[var]] 'x'."""
    for name in GRAFANA_INTERVALS:
        expr = expr.replace(name, "5m")
    return re.sub(r"\$\{\w+(?::\w+)?\}|\$\w+|\[\[\w+\]\]", "x", expr)


def _dashboard_exprs(dashboard: dict) -> list[str]:
    exprs = list(dashboard_queries(dashboard))
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if var.get("type") == "query" and isinstance(query, str):
            # label_values(<series selector>, label) is Grafana's, not PromQL: parse its selector.
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query.strip())
            exprs.append(match[1] if match else query)
    return exprs


def test_promtool_parses_every_dashboard_expression(builds, tmp_path):
    dashboards = [d for b in builds.values() for d in dashboard_files(b)]
    assert dashboards
    rules, where = [], {}
    for path in dashboards:
        for i, expr in enumerate(_dashboard_exprs(json.loads(path.read_text()))):
            build = path.parents[2].name  # <build>/files/<configmap dir>/<dashboard>.json
            record = f"dashboard:{build}_{path.parent.name}_{path.stem}_{i}".replace("-", "_").replace(".", "_")
            rules.append({"record": record, "expr": _harmless(expr)})
            where[record] = (path, expr)
    assert len(rules) > 30
    rule_file = tmp_path / "dashboards.rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = _run(PROMTOOL, "check", "rules", str(rule_file), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_promtool_refuses_a_broken_expression(tmp_path):
    rule_file = tmp_path / "broken.rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "r", "expr": _harmless('sum(rate(vllm:num_requests_running{model_name=~"$model_name"}[$__rate_interval])')}]}]}))
    assert _run(PROMTOOL, "check", "rules", str(rule_file), cwd=tmp_path).returncode != 0


def test_dashboard_variables_become_harmless_values():
    assert _harmless('rate(x{a=~"$model_name", b="${pod}", c="[[instance]]"}[$__rate_interval])') == \
        'rate(x{a=~"x", b="x", c="x"}[5m])'


# --------------------------------------------------------------------------- the compose export
@pytest.fixture(scope="module")
def compose_schema() -> dict:
    source = (DATA / "compose-spec.json.source").read_text()
    data = (DATA / "compose-spec.json").read_bytes()
    assert re.search(r"sha256:\s+(\w+)", source)[1] == hashlib.sha256(data).hexdigest(), "vendored schema was edited"
    return json.loads(data)


def test_compose_exports_validate_against_the_compose_specification(builds, compose_schema):
    composes = _files(builds, "compose.yaml")
    assert {c.parent.name for c in composes} >= {"dev", "edge"}
    validator = jsonschema.Draft7Validator(compose_schema)
    for path in composes:
        errors = sorted(validator.iter_errors(yaml.safe_load(path.read_text())), key=lambda e: list(e.path))
        assert not errors, f"{path}: " + "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])


def test_the_compose_schema_refuses_what_compose_refuses(compose_schema):
    validator = jsonschema.Draft7Validator(compose_schema)
    assert list(validator.iter_errors({"services": {"a": {"image": "x", "read_only_root": True}}}))  # unknown key
    assert list(validator.iter_errors({"services": {"a": {"image": "x", "cap_drop": "ALL"}}}))  # must be a list
    assert list(validator.iter_errors({"services": {"a": {"image": "x", "mem_limit": [128]}}}))
