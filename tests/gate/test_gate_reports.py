"""Reports parse in their standard consumers: SARIF 2.1.0 schema, JUnit XML, Markdown for reviewers."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from gate_helpers import IN_30_DAYS, DATA, PLAIN_DEPLOYMENT, REPO, waiver, write_build, write_waivers
from slm_deploy.gate import run_gate


@pytest.fixture
def gated(tmp_path):
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    path = write_waivers(tmp_path / "w.yaml", [
        waiver("CKV_K8S_43", "Deployment/plain", id="W-DIGEST"),
        waiver("CKV_K8S_8", "Deployment/nothing-here", id="W-STALE"),
    ])
    return build, run_gate(build, "t", use_cache=False, waivers_path=path)


def test_sarif_validates_against_the_2_1_0_schema(gated):
    build, result = gated
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    doc = json.loads((build / "gate" / "report.sarif").read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)
    assert not errors, [e.message for e in errors[:5]]
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    results = run["results"]
    assert len(results) == len(result.failed) + len(result.waived)
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)
    waived = [r for r in results if r.get("suppressions")]
    assert [r["ruleId"] for r in waived] == ["CKV_K8S_43"]
    assert waived[0]["suppressions"][0]["properties"]["id"] == "W-DIGEST"
    failing = next(r for r in results if r["ruleId"] == "CKV_K8S_20")
    assert failing["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "manifests/demo.deployment.plain.yaml")


def test_sarif_schema_catches_a_broken_document():
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}  # driver.name is required
    assert list(jsonschema.Draft4Validator(schema).iter_errors(bad))


def test_junit_parses_with_counts(gated):
    build, result = gated
    root = ET.parse(build / "gate" / "junit.xml").getroot()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(result.passed) + len(result.failed) + len(result.waived) == int(root.get("tests"))
    assert len(root.findall("./testsuite/testcase/failure")) == len(result.failed) == int(root.get("failures"))
    assert len(root.findall("./testsuite/testcase/skipped")) == len(result.waived) == int(root.get("skipped"))
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))


def test_junit_parses_with_junitparser(gated):
    junitparser = pytest.importorskip("junitparser")
    build, result = gated
    xml = junitparser.JUnitXml.fromfile(str(build / "gate" / "junit.xml"))
    assert sum(s.failures for s in xml) == len(result.failed)


def test_markdown_report_for_reviewers(gated):
    build, result = gated
    md = (build / "gate" / "report.md").read_text()
    assert md.startswith("# Gate report: stack `t` — FAILED")
    assert "| HIGH | CKV_K8S_20 | Deployment/plain |" in md  # failure with severity (ours) and resource
    assert "W-DIGEST" in md and IN_30_DAYS in md and "reviewer@example.com" in md  # waiver, approver, expiry
    assert "Stale waivers (match nothing in this stack):" in md and "W-STALE" in md
    # every enforced check shows up: with its results per resource, or one line saying why it had none
    for check_id in ("CKV_K8S_20", "CKV_DOCKER_2", "CKV_SLM_014", "SLM_GATE_SELF_WAIVER"):
        assert f"| {check_id} |" in md or f" {check_id} " in md
    assert "CKV_DOCKER_2 Ensure that HEALTHCHECK" in md and "this stack renders none" in md


def test_verdict_json(gated):
    build, result = gated
    verdict = json.loads((build / "gate" / "verdict.json").read_text())
    assert verdict["ok"] is False and verdict["failed"] == len(result.failed)
    assert [w["id"] for w in verdict["staleWaivers"]] == ["W-STALE"]


def _sarif_errors(doc) -> list[str]:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    return [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(doc)]


def test_sarif_uris_are_repo_relative_against_srcroot(tmp_path, monkeypatch):
    """A build inside the repository (build/<stack>/) gets repository-relative URIs against %SRCROOT%."""
    import slm_deploy.gate.result as result_module

    monkeypatch.setattr(result_module, "project_root", lambda: tmp_path)
    build = write_build(tmp_path / "build" / "t", [PLAIN_DEPLOYMENT])
    path = write_waivers(tmp_path / "w.yaml", [waiver("CKV_K8S_43", "Deployment/plain", id="W-DIGEST")])
    run_gate(build, "t", use_cache=False, waivers_path=path)
    doc = json.loads((build / "gate" / "report.sarif").read_text())
    assert not _sarif_errors(doc)
    run = doc["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    locations = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]
    assert locations and all(loc["uriBaseId"] == "%SRCROOT%" for loc in locations)
    assert {loc["uri"] for loc in locations} == {"build/t/manifests/demo.deployment.plain.yaml"}


def test_sarif_outside_the_repo_uses_the_build_dir_base(gated):
    build, _ = gated
    run = json.loads((build / "gate" / "report.sarif").read_text())["runs"][0]
    assert run["originalUriBaseIds"]["BUILDROOT"]["uri"] == build.resolve().as_uri() + "/"
    loc = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc["uriBaseId"] == "BUILDROOT" and not loc["uri"].startswith("/")


def test_sarif_waived_findings_are_suppressed_with_their_reason(tmp_path):
    opt = {"component": "slm:serving:Demo", "resource": "plain", "setting": "readOnlyRootFilesystem",
           "checks": ["CKV_K8S_22"], "container": None, "reason": "the engine writes its cache next to the binary",
           "approver": "reviewer@example.com", "expires": IN_30_DAYS}
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT], opt_outs=[opt])
    path = write_waivers(tmp_path / "w.yaml", [waiver("CKV_K8S_43", "Deployment/plain", id="W-DIGEST")])
    result = run_gate(build, "t", use_cache=False, waivers_path=path)
    doc = json.loads((build / "gate" / "report.sarif").read_text())
    assert not _sarif_errors(doc)
    results = doc["runs"][0]["results"]
    suppressed = {r["ruleId"]: r["suppressions"] for r in results if r.get("suppressions")}
    assert set(suppressed) == {"CKV_K8S_43", "CKV_K8S_22"} and len(result.waived) == 2
    waiver_sup = suppressed["CKV_K8S_43"][0]
    assert waiver_sup["kind"] == "external" and waiver_sup["status"] == "accepted"
    assert waiver_sup["justification"] == "accepted for the test: reviewed and documented"
    assert waiver_sup["properties"]["id"] == "W-DIGEST" and waiver_sup["properties"]["approver"] == "reviewer@example.com"
    opt_sup = suppressed["CKV_K8S_22"][0]
    assert opt_sup["kind"] == "external" and opt_sup["justification"] == opt["reason"]
    assert opt_sup["properties"]["source"] == "component opt-out (stack config)"
    assert sum(1 for r in results if not r.get("suppressions")) == len(result.failed)


def _resolve(run: dict, location: dict):
    """The local file a SARIF artifact location names (as a code-scanning viewer would resolve it)."""
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    artifact = location["physicalLocation"]["artifactLocation"]
    uri = artifact["uri"]
    if "uriBaseId" in artifact:
        uri = run["originalUriBaseIds"][artifact["uriBaseId"]]["uri"] + uri
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(unquote(parsed.path))


def _assert_every_location_resolves(doc: dict) -> list:
    assert not _sarif_errors(doc)
    run = doc["runs"][0]
    paths = [_resolve(run, loc) for r in run["results"] for loc in r["locations"]]
    missing = [str(p) for p in paths if not p.is_file()]
    assert not missing, missing
    return paths


def test_every_sarif_location_resolves_inside_the_repository(tmp_path, monkeypatch):
    """Waiver findings point at policies/waivers.yaml relative to the repository root (not build/...);
    manifest findings at build/<stack>/manifests/...; every one is a real file."""
    import slm_deploy.gate.result as result_module

    monkeypatch.setattr(result_module, "project_root", lambda: tmp_path)
    monkeypatch.delenv("SLM_DEPLOY_WAIVERS")
    (tmp_path / "policies").mkdir()
    write_waivers(tmp_path / "policies" / "waivers.yaml", [
        waiver("CKV_K8S_43", "Deployment/plain", id="W-OLD", expires="2020-01-31"),  # expired: a gate finding
    ])
    build = write_build(tmp_path / "build" / "t", [PLAIN_DEPLOYMENT])
    result = run_gate(build, "t", use_cache=False)
    assert "SLM_GATE_EXPIRED_WAIVER" in {f.check_id for f in result.failed}
    doc = json.loads((build / "gate" / "report.sarif").read_text())
    paths = _assert_every_location_resolves(doc)
    assert tmp_path / "policies" / "waivers.yaml" in paths
    expired = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "SLM_GATE_EXPIRED_WAIVER")
    artifact = expired["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "policies/waivers.yaml", "uriBaseId": "%SRCROOT%"}


def test_sarif_locations_resolve_with_a_waiver_file_outside_the_repository(tmp_path, monkeypatch):
    path = write_waivers(tmp_path / "elsewhere.yaml", [waiver("CKV_K8S_43", "Deployment/plain", id="W-OLD",
                                                              expires="2020-01-31")])
    monkeypatch.setenv("SLM_DEPLOY_WAIVERS", str(path))
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    run_gate(build, "t", use_cache=False)
    doc = json.loads((build / "gate" / "report.sarif").read_text())
    assert path.resolve() in _assert_every_location_resolves(doc)
    artifacts = [loc["physicalLocation"]["artifactLocation"] for r in doc["runs"][0]["results"] for loc in r["locations"]]
    assert not any("/" + str(tmp_path).lstrip("/") in a["uri"] and "uriBaseId" in a for a in artifacts)


def test_sarif_for_every_reference_stack_resolves(tmp_path):
    """The reference stacks' SARIF (including opt-out and waiver results) names only real files."""
    from stacks.loader import load_stack
    from slm_deploy.pipeline import build_stack

    build = build_stack(load_stack("dev", REPO), tmp_path / "dev")
    doc = json.loads((build.out_dir / "gate" / "report.sarif").read_text())
    assert doc["runs"][0]["results"]  # dev has opt-out results
    _assert_every_location_resolves(doc)
