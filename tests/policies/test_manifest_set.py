"""Cross-resource rules: check_manifest_set over each fixture file (one file = one rendered set)."""
from __future__ import annotations

import pytest

from policies.rules import Status
from policies.rules.manifest_set import check_manifest_set
from slm_policy_helpers import MANIFEST_SET_CHECK_IDS, fixture_files, load_docs

EXPECTED = {  # (passed, failed) findings of the check on its pass/ and fail/ sets
    "CKV_SLM_008": (3, 3),
    "CKV_SLM_009": (3, 3),
    "CKV_SLM_030": (5, 6),
    "CKV_SLM_031": (5, 10),  # + GAIE: pools with their picker and declared data plane; fail: data plane of any namespace, picker from another, undeclared data plane, open unpooled engine
    "CKV_SLM_034": (3, 6),  # pass: proxied Ollama, closed web UI, named vLLM peers; fail: no from, {} namespaces, {} pods, public ipBlock, unselected, portless open rule
}


def _findings(check_id: str, outcome: str):
    return [f for path in fixture_files(check_id, outcome) for f in check_manifest_set(load_docs(path))
            if f.check_id == check_id]


@pytest.mark.parametrize("check_id", MANIFEST_SET_CHECK_IDS)
def test_exact_counts(check_id):
    on_pass, on_fail = _findings(check_id, "pass"), _findings(check_id, "fail")
    assert all(f.status is Status.PASSED for f in on_pass), [(f.resource, f.reasons) for f in on_pass]
    assert all(f.status is Status.FAILED for f in on_fail), [(f.resource, f.reasons) for f in on_fail]
    assert (len(on_pass), len(on_fail)) == EXPECTED[check_id]


def test_findings_name_the_resource_and_file():
    docs = load_docs(fixture_files("CKV_SLM_009", "fail")[0])
    findings = check_manifest_set(docs, file_paths={"Service.default.ollama-lb": "manifests/ollama.yaml"})
    lb = next(f for f in findings if f.resource == "Service.default.ollama-lb")
    assert lb.file_path == "manifests/ollama.yaml" and lb.severity == "CRITICAL"
    assert "auth-proxy/http-auth" in lb.reasons[0]


def test_checkov_line_metadata_is_ignored():
    docs = load_docs(fixture_files("CKV_SLM_008", "pass")[0])
    for d in docs:
        d["__startline__"], d["__endline__"] = 1, 2
    assert [f.status for f in check_manifest_set(docs) if f.check_id == "CKV_SLM_008"] == [Status.PASSED] * 3


def test_builtin_graph_check_is_too_lenient(tmp_path):
    """Why CKV_SLM_008 is a Python manifest-set rule, not a YAML graph policy: checkov's graph connects
    a NetworkPolicy to pods by matchLabels alone (no namespace, no policyTypes, matchExpressions
    ignored), so the built-in CKV2_K8S_6 passes all three pods of our fail/ set."""
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    path = tmp_path / "set.yaml"
    path.write_text(fixture_files("CKV_SLM_008", "fail")[0].read_text())
    report = Runner().run(root_folder=None, files=[str(path)],
                          runner_filter=RunnerFilter(framework=["kubernetes"], checks=["CKV2_K8S_6"]))
    assert len(report.passed_checks) == 3 and not report.failed_checks
    assert [f.status for f in check_manifest_set(load_docs(path)) if f.check_id == "CKV_SLM_008"] == [
        Status.FAILED] * 3
