"""Waivers, expiry, staleness, self-waiving suppressions and component opt-outs."""
from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from gate_helpers import IN_30_DAYS, PLAIN_DEPLOYMENT, ids, waiver, write_build, write_waivers
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
    assert (w.by.source, w.by.approver, w.by.expires) == ("waiver", "reviewer@example.com", IN_30_DAYS)
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
           "container": None, "reason": "vendor image has no digest-pinned release yet",
           "approver": "reviewer@example.com", "expires": IN_30_DAYS}
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


# --------------------------------------------------------------------------- the waiver file is named as it is
def test_expired_waiver_names_the_waiver_file_in_use(plain, tmp_path):
    result = _gate(plain, tmp_path, [waiver("CKV_K8S_43", "Deployment/plain", expires="2024-01-31", id="W-OLD")])
    expired = next(f for f in result.failed if f.check_id == "SLM_GATE_EXPIRED_WAIVER")
    assert expired.file == str((tmp_path / "w.yaml").resolve())
    assert "policies/waivers.yaml" not in expired.file + expired.message


def test_malformed_waiver_file_names_the_file_in_use(plain, tmp_path):
    result = _gate(plain, tmp_path, [waiver("CKV_K8S_43", "Deployment/plain", approver="")])
    bad = [f for f in result.failed if f.check_id == "SLM_GATE_WAIVER_FILE"]
    where = str((tmp_path / "w.yaml").resolve())
    assert bad and all(f.file == where and f.message.startswith(f"{where}: ") for f in bad)


def test_waiver_file_display_path_is_repo_relative_inside_the_repo(tmp_path):
    from gate_helpers import REPO
    from slm_deploy.gate.runner import waivers_display_path

    assert waivers_display_path(REPO / "policies" / "waivers.yaml") == "policies/waivers.yaml"
    assert waivers_display_path(REPO / "ops" / "prod-waivers.yaml") == "ops/prod-waivers.yaml"
    assert waivers_display_path(tmp_path / "w.yaml") == str((tmp_path / "w.yaml").resolve())


# --------------------------------------------------------------------------- compose opt-outs (CKV_SLM_020)
_ROOT_OPT_OUT_REASON = "named volumes are root-owned on Docker; capabilities dropped, read-only root"


def _root_opt_out(container: str | None) -> dict:
    from components.optouts import OPT_OUT_CHECKS

    return {"component": "slm:serving:OllamaStack", "resource": "ollama", "setting": "runAsNonRoot",
            "checks": OPT_OUT_CHECKS["runAsNonRoot"], "container": container, "reason": _ROOT_OPT_OUT_REASON,
            "approver": "reviewer@example.com", "expires": IN_30_DAYS}


_COMPOSE = """
name: t
services:
  ollama:
    image: ollama/ollama:0.12.3
    networks: {ollama-internal: {aliases: [ollama]}}
  ollama-pull:
    image: ollama/ollama:0.12.3
    user: "10001:10001"
  ollama-webui:
    image: ghcr.io/open-webui/open-webui:v0.6.36
    container_name: ollama-webui
    networks: {ollama-internal: {aliases: [open-webui]}, ollama-webui-edge: {}}
  sidecar:
    image: example.org/other:1
"""


def test_opt_out_checks_cover_the_compose_non_root_check():
    from components.optouts import OPT_OUT_CHECKS

    assert "CKV_SLM_020" in OPT_OUT_CHECKS["runAsNonRoot"] and "CKV_SLM_020" in OPT_OUT_CHECKS["highUid"]


def test_compose_opt_outs_waive_exactly_their_containers(tmp_path):
    """Each runAsNonRoot opt-out waives CKV_SLM_020 on its own container's service (matched by service name,
    container_name or network alias) and nothing else: another component's service stays failed."""
    build = write_build(tmp_path / "b", compose=_COMPOSE, opt_outs=[_root_opt_out("ollama"), _root_opt_out("open-webui")])
    result = _gate(build, tmp_path, [])
    waived = {(w.finding.check_id, w.finding.resource, w.by.ident) for w in result.waived}
    assert {x for x in waived if x[0] == "CKV_SLM_020"} == {
        ("CKV_SLM_020", "service.ollama", "slm:serving:OllamaStack:runAsNonRoot (container ollama)"),
        ("CKV_SLM_020", "service.ollama-webui", "slm:serving:OllamaStack:runAsNonRoot (container open-webui)"),
    }
    assert all(w.by.source == OPT_OUT_SOURCE and w.by.reason == _ROOT_OPT_OUT_REASON for w in result.waived)
    assert ("CKV_SLM_020", "service.sidecar") in {(f.check_id, f.resource) for f in result.failed}
    assert "service.ollama-pull" in {f.resource for f in result.passed if f.check_id == "CKV_SLM_020"}
    assert [row["matched"] for row in result.opt_outs] == [1, 1]


def test_compose_opt_out_without_container_covers_the_whole_instance(tmp_path):
    build = write_build(tmp_path / "b", compose=_COMPOSE, opt_outs=[_root_opt_out(None)])
    result = _gate(build, tmp_path, [])
    assert {w.finding.resource for w in result.waived if w.finding.check_id == "CKV_SLM_020"} == {
        "service.ollama", "service.ollama-webui"}
    assert "service.sidecar" in {f.resource for f in result.failed if f.check_id == "CKV_SLM_020"}


def test_dev_stack_root_opt_outs_waive_ckv_slm_020_visibly(built):
    """The dev stack runs Ollama, its pull step and Open WebUI as the images' root user with a recorded opt-out:
    the gate passes with those CKV_SLM_020 findings waived (not hidden) and listed in report.md with their reason.
    (The pull step writes the root-owned models volume since it downloads with a server of its own, issue #10;
    with dockerUser set it runs as that uid like the others.)"""
    build = built("dev")  # the session's build of the reference stack (reviewed waivers, no cache)
    gate = build.gate
    assert gate.ok, [(f.check_id, f.resource) for f in gate.failed]
    waived = {w.finding.resource: w for w in gate.waived if w.finding.check_id == "CKV_SLM_020"}
    assert set(waived) == {"service.ollama", "service.ollama-pull", "service.ollama-webui"}
    assert all(w.by.source == OPT_OUT_SOURCE and "root-owned" in w.by.reason for w in waived.values())
    report = (build.out_dir / "gate" / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| CKV_SLM_020 | service/")]
    assert len(rows) == 3 and all(OPT_OUT_SOURCE in r and "root-owned" in r for r in rows)


# --------------------------------------------------------------------------- issue #10, item 4: one reviewed file

def _opt(**extra) -> dict:
    opt = {"component": "slm:serving:Demo", "resource": "plain", "setting": "imageDigest", "checks": ["CKV_K8S_43"],
           "container": None, "reason": "vendor image has no digest-pinned release yet"}
    opt.update(extra)
    return opt


def test_self_approved_opt_out_fails_and_backs_nothing(tmp_path):
    """The attack: an opt-out with only a reason (self-approved) used to waive its findings silently."""
    result = _gate(write_build(tmp_path / "b", [PLAIN_DEPLOYMENT], opt_outs=[_opt()]), tmp_path, [])
    assert not result.ok
    problem = next(f for f in result.failed if f.check_id == "SLM_GATE_OPT_OUT")
    assert problem.resource == "OptOut.plain:imageDigest" and "not approved" in problem.message
    assert "CKV_K8S_43" in ids(result.failed)  # nothing waived by it
    assert result.opt_outs[0]["approved"] is False
    md = (tmp_path / "b" / "gate" / "report.md").read_text()
    assert "| HIGH | SLM_GATE_OPT_OUT | OptOut/plain:imageDigest |" in md and "**no**" in md


def test_opt_out_backed_by_a_waiver_reports_its_approver_and_expiry(tmp_path):
    backing = waiver("SLM_GATE_OPT_OUT", "OptOut/plain:imageDigest", id="W-OPT")
    result = _gate(write_build(tmp_path / "b", [PLAIN_DEPLOYMENT], opt_outs=[_opt()]), tmp_path, [backing])
    assert "SLM_GATE_OPT_OUT" not in ids(result.failed) and "CKV_K8S_43" not in ids(result.failed)
    w = next(w for w in result.waived if w.finding.check_id == "CKV_K8S_43")
    assert (w.by.source, w.by.approver, w.by.expires) == (OPT_OUT_SOURCE, "reviewer@example.com", IN_30_DAYS)
    assert "W-OPT" in w.by.ident and not result.stale_waivers


def test_opt_out_carrying_its_approval_is_reported_like_a_waiver(tmp_path):
    opt = _opt(approver="sec@example.com", expires=IN_30_DAYS)
    result = _gate(write_build(tmp_path / "b", [PLAIN_DEPLOYMENT], opt_outs=[opt]), tmp_path, [])
    w = next(w for w in result.waived if w.finding.check_id == "CKV_K8S_43")
    assert (w.by.approver, w.by.expires) == ("sec@example.com", IN_30_DAYS)
    sarif = (tmp_path / "b" / "gate" / "report.sarif").read_text()
    assert '"approver": "sec@example.com"' in sarif


@pytest.mark.parametrize("expires,check", [("2024-01-01", "SLM_GATE_EXPIRED_WAIVER"), ("2099-01-01", "SLM_GATE_OPT_OUT")])
def test_expired_or_too_long_opt_out_approval_fails(tmp_path, expires, check):
    opt = _opt(approver="sec@example.com", expires=expires)
    result = _gate(write_build(tmp_path / "b", [PLAIN_DEPLOYMENT], opt_outs=[opt]), tmp_path, [])
    assert check in ids(result.failed) and "CKV_K8S_43" in ids(result.failed)


def test_waiver_for_an_unknown_check_fails_the_gate(plain, tmp_path):
    result = _gate(plain, tmp_path, [waiver("CKV_K8S_9999", "Deployment/plain", id="W-TYPO")])
    bad = [f for f in result.failed if f.check_id == "SLM_GATE_WAIVER_FILE"]
    assert len(bad) == 1 and "CKV_K8S_9999" in bad[0].message and "does not enforce" in bad[0].message
    assert not result.stale_waivers


@pytest.mark.parametrize("field,value,message", [
    ("resource", {"kind": "*", "name": "plain"}, "wildcard kind"),
    ("resource", {"kind": "Deployment", "name": "*"}, "bare wildcard"),
    ("resource", "Deployment/*", "bare wildcard"),
    ("resource", {"kind": "Deployment", "name": "plain", "namespace": "*"}, "bare wildcard"),
    ("stacks", ["*"], "wildcards are refused"),
    ("stacks", ["prod-*"], "wildcards are refused"),
    ("reason", "xxxxxxxxxxxxxxxxxxxxxxxxx", "in words"),
    ("reason", "ok ok ok ok ok ok ok ok ok", "in words"),
])
def test_wildcards_and_padding_are_refused(plain, tmp_path, field, value, message):
    entry = waiver("CKV_K8S_43", "Deployment/plain")
    entry[field] = value
    with pytest.raises(WaiverFileError, match=message):
        load_waivers(write_waivers(tmp_path / "w.yaml", [entry]))
    assert "SLM_GATE_WAIVER_FILE" in ids(_gate(plain, tmp_path, [entry]).failed)


def test_expiry_beyond_the_horizon_is_refused_and_the_header_sets_it(plain, tmp_path):
    far = (date.today() + timedelta(days=200)).isoformat()
    path = write_waivers(tmp_path / "w.yaml", [waiver("CKV_K8S_43", "Deployment/plain", expires=far)])
    with pytest.raises(WaiverFileError, match="beyond the 180-day horizon"):
        load_waivers(path)
    path.write_text("maxExpiryDays: 365\n" + path.read_text())
    assert load_waivers(path)[0].expires.isoformat() == far
    path.write_text(path.read_text().replace("maxExpiryDays: 365", "maxExpiryDays: 30"))
    with pytest.raises(WaiverFileError, match="30-day horizon"):
        load_waivers(path)


def test_every_report_records_the_waiver_file_path_and_hash(plain, tmp_path):
    import hashlib
    import json

    result = _gate(plain, tmp_path, [waiver("CKV_K8S_43", "Deployment/plain")])
    digest = hashlib.sha256((tmp_path / "w.yaml").read_bytes()).hexdigest()
    assert result.waiver_file == {"path": str((tmp_path / "w.yaml").resolve()), "sha256": digest, "override": True}
    gate = tmp_path / "b" / "gate"
    assert json.loads((gate / "verdict.json").read_text())["waiverFile"]["sha256"] == digest
    assert json.loads((gate / "report.sarif").read_text())["runs"][0]["properties"]["waiverFile"]["sha256"] == digest
    assert f'value="{digest}"' in (gate / "junit.xml").read_text()
    md = (gate / "report.md").read_text()
    assert digest in md and "OVERRIDE: SLM_DEPLOY_WAIVERS" in md


def test_terminal_summary_shows_the_waiver_file(plain, tmp_path):
    from rich.console import Console

    from slm_deploy.gate.summary import print_summary

    console = Console(record=True, width=400)
    print_summary(_gate(plain, tmp_path, []), console)
    text = console.export_text()
    assert "waiver file:" in text and "OVERRIDE" in text


def test_reference_waivers_file_is_not_an_override():
    from gate_helpers import REPO
    from slm_deploy.gate.runner import waiver_file_record

    record = waiver_file_record(REPO / "policies" / "waivers.yaml")
    assert record["path"] == "policies/waivers.yaml" and record["override"] is False and record["sha256"]


def test_the_shipped_waiver_file_teaches_the_format_with_a_valid_example(tmp_path):
    """policies/waivers.yaml ships a commented example entry; uncommented, it is a valid waiver."""
    from gate_helpers import REPO

    text = (REPO / "policies" / "waivers.yaml").read_text()
    example = [line[1:] for line in text.splitlines() if line.startswith("#   ") or line.startswith("#     ")]
    assert example, "no commented example entry"
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n" + "\n".join(example) + "\n")
    [entry] = load_waivers(path, today=date(2026, 12, 1))  # within maxExpiryDays of the example's expiry
    assert entry.check == "CKV_K8S_43" and entry.approver and entry.stacks == ["prod"]
    assert load_waivers(REPO / "policies" / "waivers.yaml") == []  # the example itself is not active
