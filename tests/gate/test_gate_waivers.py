"""Waivers, expiry, staleness, self-waiving suppressions and component opt-outs."""
from __future__ import annotations

import copy
from datetime import date

import pytest

from gate_helpers import PLAIN_DEPLOYMENT, ids, waiver, write_build, write_waivers
from slm_deploy.gate import run_gate
from slm_deploy.gate.waivers import OPT_OUT_SOURCE, WaiverFileError, load_waivers


def _gate(build, tmp_path, waivers, stack="t", **kw):
    path = write_waivers(tmp_path / "w.yaml", waivers)
    return run_gate(build, stack, use_cache=False, waivers_path=path, **kw)


@pytest.fixture
def plain(tmp_path):
    return write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])


def test_waiver_waives_exactly_its_check_and_resource(plain, tmp_path):
    result = _gate(plain, tmp_path, [waiver("CKV_K8S_43", {"kind": "Deployment", "name": "plain", "namespace": "demo"})])
    assert "CKV_K8S_43" not in ids(result.failed)
    assert "CKV_K8S_20" in ids(result.failed)  # other failures stay
    w = next(w for w in result.waived if w.finding.check_id == "CKV_K8S_43")
    assert (w.by.source, w.by.approver, w.by.expires) == ("waiver", "reviewer@example.com", "2099-12-31")
    assert w.by.ident == "CKV_K8S_43@Deployment/demo/plain" and not w.inline
    assert not result.stale_waivers


def test_waiver_glob_and_string_selector(plain, tmp_path):
    result = _gate(plain, tmp_path, [waiver("CKV_K8S_43", "Deployment/pla*")])
    assert "CKV_K8S_43" in {w.finding.check_id for w in result.waived}


@pytest.mark.parametrize("mismatch", [
    {"resource": "Deployment/other"},
    {"resource": {"kind": "StatefulSet", "name": "plain"}},
    {"resource": {"kind": "Deployment", "name": "plain", "namespace": "prod"}},
    {"stacks": ["prod"]},
])
def test_non_matching_waiver_is_stale_and_waives_nothing(plain, tmp_path, mismatch):
    entry = waiver("CKV_K8S_43", "Deployment/plain")
    entry.update(mismatch)
    result = _gate(plain, tmp_path, [entry])
    assert "CKV_K8S_43" in ids(result.failed)
    if "stacks" in mismatch:  # a waiver for another stack is neither used nor stale here
        assert not result.stale_waivers
    else:
        assert [w["check"] for w in result.stale_waivers] == ["CKV_K8S_43"]


def test_expired_waiver_fails_the_gate(plain, tmp_path):
    result = _gate(plain, tmp_path, [waiver("CKV_K8S_43", "Deployment/plain", expires="2024-01-31", id="W-OLD")])
    assert not result.ok
    assert "CKV_K8S_43" in ids(result.failed)  # an expired waiver backs nothing
    expired = [f for f in result.failed if f.check_id == "SLM_GATE_EXPIRED_WAIVER"]
    assert len(expired) == 1 and "W-OLD" in expired[0].message and "2024-01-31" in expired[0].message
    assert [w["id"] for w in result.expired_waivers] == ["W-OLD"]


def test_waiver_expires_on_its_date(tmp_path):
    clean = write_build(tmp_path / "b", [])
    entry = waiver("CKV_K8S_43", "Deployment/plain", expires="2030-06-30")
    assert _gate(clean, tmp_path, [entry], today=date(2030, 6, 29)).ok
    assert not _gate(clean, tmp_path, [entry], today=date(2030, 6, 30)).ok


@pytest.mark.parametrize("field,value,message", [
    ("approver", "", "at least 3 characters"),
    ("reason", "because", "at least 15 characters"),
    ("expires", "soon", "valid date"),
    ("check", "CKV_K8S_*", "is not a check id"),
    ("stacks", [], "at least 1 item"),
])
def test_malformed_waiver_fails_with_located_message(plain, tmp_path, field, value, message):
    entry = waiver("CKV_K8S_43", "Deployment/plain")
    entry[field] = value
    path = write_waivers(tmp_path / "w.yaml", [entry])
    with pytest.raises(WaiverFileError) as exc:
        load_waivers(path)
    assert f"waivers[0].{field}" in str(exc.value) and message in str(exc.value)
    result = run_gate(plain, "t", use_cache=False, waivers_path=path)
    assert "SLM_GATE_WAIVER_FILE" in ids(result.failed)


def test_missing_approver_key_is_an_error(tmp_path):
    entry = waiver("CKV_K8S_43", "Deployment/plain")
    del entry["approver"]
    with pytest.raises(WaiverFileError, match=r"waivers\[0\]\.approver"):
        load_waivers(write_waivers(tmp_path / "w.yaml", [entry]))


def _annotated(check="CKV_K8S_43"):
    obj = copy.deepcopy(PLAIN_DEPLOYMENT)
    obj["metadata"]["annotations"] = {"checkov.io/skip1": f"{check}=the generator says so"}
    return obj


def test_self_waiving_annotation_fails(tmp_path):
    result = _gate(write_build(tmp_path / "b", [_annotated()]), tmp_path, [])
    assert not result.ok
    self_w = [f for f in result.failed if f.check_id == "SLM_GATE_SELF_WAIVER"]
    assert [f.resource for f in self_w] == ["Deployment.demo.plain"]
    assert "CKV_K8S_43" in self_w[0].message
    assert [f.check_id for f in result.self_waivers] == ["CKV_K8S_43"]


def test_annotation_backed_by_waiver_is_waived_inline(tmp_path):
    result = _gate(write_build(tmp_path / "b", [_annotated()]), tmp_path, [waiver("CKV_K8S_43", "Deployment/plain")])
    assert "SLM_GATE_SELF_WAIVER" not in ids(result.failed)
    assert [(w.finding.check_id, w.inline) for w in result.waived if w.inline] == [("CKV_K8S_43", True)]
    assert not result.stale_waivers


def test_dockerfile_skip_comment_fails(tmp_path):
    docker = "FROM python:3.12-slim@sha256:" + "a" * 64 + "\n#checkov:skip=CKV_DOCKER_3:no user needed\nRUN true\n"
    result = _gate(write_build(tmp_path / "b", files={"srv/Dockerfile": docker}), tmp_path, [])
    self_w = [f for f in result.failed if f.check_id == "SLM_GATE_SELF_WAIVER"]
    assert [f.resource for f in self_w] == ["Dockerfile.files/srv/Dockerfile"]
    backed = _gate(write_build(tmp_path / "c", files={"srv/Dockerfile": docker}), tmp_path,
                   [waiver("CKV_DOCKER_3", "Dockerfile/files/srv/Dockerfile")])
    assert "SLM_GATE_SELF_WAIVER" not in ids(backed.failed)


def test_compose_skip_comment_fails(tmp_path):
    compose = ("name: t\nservices:\n  webui:\n    # checkov:skip=CKV_SLM_017: writable root\n"
               "    image: ghcr.io/open-webui/open-webui@sha256:" + "b" * 64 + "\n")
    result = _gate(write_build(tmp_path / "b", compose=compose), tmp_path, [])
    self_w = [f for f in result.failed if f.check_id == "SLM_GATE_SELF_WAIVER"]
    assert [(f.resource, f.line) for f in self_w] == [("service.webui", 4)]


def test_opt_outs_waive_their_checks_and_are_reported(tmp_path):
    opt = {"component": "slm:serving:Demo", "resource": "plain", "setting": "imageDigest", "checks": ["CKV_K8S_43"],
           "container": None, "reason": "vendor image has no digest-pinned release yet"}
    result = _gate(write_build(tmp_path / "b", [PLAIN_DEPLOYMENT], opt_outs=[opt]), tmp_path, [])
    w = next(w for w in result.waived if w.finding.check_id == "CKV_K8S_43")
    assert w.by.source == OPT_OUT_SOURCE and w.by.reason == opt["reason"]
    assert result.opt_outs[0]["matched"] == 1
    report = (tmp_path / "b" / "gate" / "report.md").read_text()
    assert OPT_OUT_SOURCE in report and opt["reason"] in report and "imageDigest" in report


def test_reviewed_waiver_file_is_valid():
    from gate_helpers import REPO

    for w in load_waivers(REPO / "policies" / "waivers.yaml"):
        assert w.expires > date.today(), f"{w.id} has expired"
        assert len(w.reason) >= 15 and w.approver
