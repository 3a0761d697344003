"""Coverage: every rendered object is judged, or the gate fails with SLM_GATE_UNSCANNED (issue #10, item 1).

The attack: a stack string such as ``servedModelName: "phi4 {{ .Values.x }}"`` lands in the vLLM
Deployment; checkov's kubernetes parser takes the file for a Helm template and drops it, with no
result and no error, so every check on that Deployment silently disappears.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gate_helpers import copy_build, write_build
from slm_deploy.gate import run_gate
from slm_deploy.gate.coverage import unscanned
from slm_deploy.gate.result import Finding

DEPLOYMENT = "Deployment.slm-staging.phi4-mini"
MANIFEST = "manifests/slm-staging.deployment.phi4-mini.yaml"


def _poison(build: Path) -> None:
    path = build / MANIFEST
    text = path.read_text()
    assert "--served-model-name" in text
    path.write_text(text.replace("--served-model-name", "--served-model-name={{ .Values.x }}", 1))


@pytest.fixture(scope="module")
def poisoned(staging_build, tmp_path_factory):
    build = copy_build(staging_build, tmp_path_factory.mktemp("poisoned") / "build")
    _poison(build)
    return build


def test_checkov_really_skips_the_helm_lookalike(poisoned):
    """The attack is real: checkov itself returns nothing for the poisoned Deployment."""
    from slm_deploy.gate.scan import scan_kubernetes

    out = scan_kubernetes([poisoned / MANIFEST], poisoned, None, {})
    assert not [f for f in out.passed + out.failed + out.skipped if f.resource == DEPLOYMENT]


def test_unscanned_object_fails_the_gate_in_every_report(poisoned):
    result = run_gate(poisoned, "staging", use_cache=False)
    assert not result.ok
    unscanned_ = [f for f in result.failed if f.check_id == "SLM_GATE_UNSCANNED"]
    assert [(f.resource, f.file) for f in unscanned_] == [(DEPLOYMENT, MANIFEST)]
    assert "Helm template" in unscanned_[0].message

    gate = poisoned / "gate"
    verdict = json.loads((gate / "verdict.json").read_text())
    assert {"check": "SLM_GATE_UNSCANNED", "resource": DEPLOYMENT} in [
        {k: x[k] for k in ("check", "resource")} for x in verdict["failures"]]
    sarif = json.loads((gate / "report.sarif").read_text())
    assert any(r["ruleId"] == "SLM_GATE_UNSCANNED" and "suppressions" not in r for r in sarif["runs"][0]["results"])
    junit = ET.parse(gate / "junit.xml").getroot()
    suite = next(s for s in junit.iter("testsuite") if s.get("name") == "SLM_GATE_UNSCANNED")
    assert suite.get("failures") == "1"
    report = (gate / "report.md").read_text()
    assert "| HIGH | SLM_GATE_UNSCANNED | Deployment/phi4-mini | manifests/" in report  # the Failures table


def test_reference_build_is_fully_covered(staging_build, tmp_path):
    result = run_gate(copy_build(staging_build, tmp_path / "b"), "staging", use_cache=False)
    assert result.ok, [f"{f.check_id} {f.resource}" for f in result.failed]
    assert not [f for f in result.failed if f.check_id == "SLM_GATE_UNSCANNED"]


def test_dockerfile_and_compose_service_without_results_are_unscanned(tmp_path):
    build = write_build(tmp_path / "b", files={"web/Dockerfile": "FROM scratch\n"})
    compose = {"services": {"web": {"image": "x"}, "db": {"image": "y"}}}
    results = [Finding("CKV_SLM_012", "n", "service.web", "compose.yaml", source="compose")]
    found = unscanned(build, {}, [build / "files/web/Dockerfile"], compose, results, {"Deployment"})
    assert sorted(f.resource for f in found) == ["Dockerfile.files/web/Dockerfile", "service.db"]
    assert {f.check_id for f in found} == {"SLM_GATE_UNSCANNED"}


def test_kinds_no_check_applies_to_are_not_unscanned(tmp_path):
    build = write_build(tmp_path / "b")
    path = build / "manifests" / "x.yaml"
    found = unscanned(build, {path: {"kind": "NetworkPolicy", "metadata": {"name": "a", "namespace": "n"}}}, [],
                      None, [], {"Deployment"})
    assert found == []


# --------------------------------------------------------------------------- promtool inside the gate


BROKEN_RULES = """groups:
- name: broken
  rules:
  - alert: Broken
    expr: sum(rate(http_requests_total[5m]
    labels: {severity: critical}
    annotations: {summary: "{{ $labels.pod "}
"""


def test_broken_rule_file_fails_the_gate(staging_build, tmp_path):
    build = copy_build(staging_build, tmp_path / "b")
    (build / "files" / "extra").mkdir()
    (build / "files" / "extra" / "broken.yaml").write_text(BROKEN_RULES)
    result = run_gate(build, "staging", use_cache=False)
    failed = [f for f in result.failed if f.check_id == "PROMTOOL_RULES"]
    assert [f.file for f in failed] == ["files/extra/broken.yaml"]
    assert "promtool check rules" in failed[0].message
    passed = {f.file for f in result.passed if f.check_id == "PROMTOOL_RULES"}
    assert "files/monitoring/rules/slm.rules.yaml" in passed


def test_promtool_missing_fails_the_gate_with_a_clear_message(staging_build, tmp_path, monkeypatch):
    build = copy_build(staging_build, tmp_path / "b")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = run_gate(build, "staging", use_cache=False)
    failed = [f for f in result.failed if f.check_id == "PROMTOOL_RULES"]
    assert failed and all("promtool is not on PATH" in f.message and "apt-get install" in f.message for f in failed)
    assert os.environ["PATH"] == str(empty)


def test_promtool_verdicts_are_cached_per_rule_file_and_a_changed_file_is_checked_again(tmp_path, monkeypatch):
    import subprocess

    from slm_deploy.gate.alert_rules import check_rule_files
    from slm_deploy.gate.object_cache import ObjectStore

    build = tmp_path / "b"
    (build / "files" / "x").mkdir(parents=True)
    good = "groups:\n- name: ok\n  rules:\n  - alert: Up\n    expr: up == 0\n"
    (build / "files" / "x" / "a.yaml").write_text(good)
    (build / "files" / "x" / "b.yaml").write_text(BROKEN_RULES)
    calls: list[list[str]] = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or real(cmd, **kw))

    def judged() -> tuple[list[str], list[str], int]:
        calls.clear()
        store = ObjectStore("demo", "fp", tmp_path / "cache")
        passed, failed = check_rule_files(build, {}, store)
        store.save()
        return [f.file for f in passed], [f.file + ": " + f.message for f in failed], len(calls)

    first = judged()
    assert first[0] == ["files/x/a.yaml"] and first[1][0].startswith("files/x/b.yaml: promtool check rules:")
    assert first[2] == 1  # one promtool process for both files
    assert judged() == (first[0], first[1], 0)  # unchanged: promtool is not run again, same verdicts
    (build / "files" / "x" / "a.yaml").write_text(good.replace("up == 0", "sum(rate(up[5m]"))
    passed, failed, ran = judged()
    assert passed == [] and [f.split(":")[0] for f in failed] == ["files/x/a.yaml", "files/x/b.yaml"] and ran == 1


def test_promtool_checks_every_rule_file_of_a_build_in_one_call_and_tells_them_apart(tmp_path, monkeypatch):
    """One `promtool check rules` process per gate run, however many rule files; each file still gets its own
    verdict, the broken one named with promtool's error."""
    import subprocess

    from slm_deploy.gate.alert_rules import check_rule_files

    build = tmp_path / "b"
    good = "groups:\n- name: ok\n  rules:\n  - alert: Up\n    expr: up == 0\n"
    for name, text in (("a", good), ("b", BROKEN_RULES), ("c", good), ("d", good)):
        (build / "files" / name).mkdir(parents=True)
        (build / "files" / name / "rules.yaml").write_text(text)
    calls: list[list[str]] = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or real(cmd, **kw))
    passed, failed = check_rule_files(build, {}, None)
    assert len(calls) == 1 and calls[0][1:3] == ["check", "rules"] and len(calls[0]) == 3 + 4
    assert [f.file for f in passed] == ["files/a/rules.yaml", "files/c/rules.yaml", "files/d/rules.yaml"]
    [broken] = failed
    assert broken.file == "files/b/rules.yaml"
    assert broken.message.startswith("promtool check rules: files/b/rules.yaml:") and "parse error" in broken.message
    assert "r0000" not in broken.message  # the temporary names never show


def test_a_promtool_timeout_says_so_and_is_not_cached(tmp_path, monkeypatch):
    """A promtool that does not finish in time fails the rule files with a message about the machine, not the
    file, and the verdict is not cached: the next run checks them again (and passes)."""
    from slm_deploy.gate import alert_rules
    from slm_deploy.gate.object_cache import ObjectStore

    build = tmp_path / "b"
    (build / "files" / "x").mkdir(parents=True)
    (build / "files" / "x" / "a.yaml").write_text("groups:\n- name: ok\n  rules:\n  - alert: Up\n    expr: up == 0\n")
    assert alert_rules.PROMTOOL_TIMEOUT_S >= 120  # generous: a loaded machine is not a broken rule file

    def judge(timeout: float):
        monkeypatch.setattr(alert_rules, "PROMTOOL_TIMEOUT_S", timeout)
        store = ObjectStore("demo", "fp", tmp_path / "cache")
        result = alert_rules.check_rule_files(build, {}, store)
        store.save()
        return result

    passed, [failed] = judge(0.001)  # no process starts and finishes in a millisecond
    assert passed == [] and failed.file == "files/x/a.yaml"
    assert "did not finish within 0.001 s" in failed.message and "not a verdict on the file" in failed.message
    assert "run the gate again" in failed.message
    passed, failed = judge(300)
    assert [f.file for f in passed] == ["files/x/a.yaml"] and failed == []


def test_rule_file_shape_is_cached_per_text_and_follows_a_change(tmp_path, monkeypatch):
    """Whether a YAML file under files/ is a rule file is kept per text in the object store: an unchanged file is not
    parsed again, a changed one always is (in and out of the rule-file shape)."""
    import yaml as pyyaml

    from slm_deploy.gate import alert_rules
    from slm_deploy.gate.object_cache import ObjectStore

    build = tmp_path / "b"
    (build / "files" / "x").mkdir(parents=True)
    path = build / "files" / "x" / "a.yaml"
    good = "groups:\n- name: ok\n  rules:\n  - alert: Up\n    expr: up == 0\n"
    parses: list[int] = []
    real = pyyaml.load
    monkeypatch.setattr(pyyaml, "load", lambda *a, **kw: parses.append(1) or real(*a, **kw))

    def found() -> tuple[list[str], int]:
        parses.clear()
        store = ObjectStore("demo", "fp", tmp_path / "cache")
        files = alert_rules.rule_files(build, {}, store)
        store.save()
        return [rel for rel, _ in files], len(parses)

    path.write_text(good)
    assert found() == (["files/x/a.yaml"], 1)
    assert found() == (["files/x/a.yaml"], 0)  # unchanged: the cached answer
    path.write_text("groups: []\n")  # no longer a rule file
    assert found() == ([], 1)
    path.write_text(good.replace("up == 0", "up == 1"))
    assert found() == (["files/x/a.yaml"], 1)
    assert alert_rules.rule_files(build, {}) == [("files/x/a.yaml", path.read_text())]  # no store: parsed every time
