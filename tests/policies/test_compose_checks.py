"""Compose checks through run_compose_checks on their fixtures, plus port parsing."""
from __future__ import annotations

import pytest
import yaml

from policies.compose import load_compose_checks, run_compose_checks
from policies.compose.ports import is_loopback, parse_port
from slm_policy_helpers import COMPOSE_CHECK_IDS, fixture_files

EXPECTED = {  # (passed, failed) service records of the check on its pass/ and fail/ compose files
    "CKV_SLM_010": (2, 5),
    "CKV_SLM_011": (1, 3),
    "CKV_SLM_012": (2, 2),
    "CKV_SLM_013": (2, 3),
    "CKV_SLM_014": (2, 1),
    "CKV_SLM_015": (2, 3),
    "CKV_SLM_016": (4, 5),
    "CKV_SLM_017": (1, 2),
    "CKV_SLM_018": (2, 1),
    "CKV_SLM_019": (3, 3),
    "CKV_SLM_020": (3, 6),
    "CKV_SLM_028": (2, 2),
    "CKV_SLM_029": (2, 3),  # pass: download + server (stateless mounts nothing: n/a); fail: each of the three reads another's secret
    "CKV_SLM_032": (1, 2),  # pass: the named-client proxy (single-key proxy and plain service: n/a); fail: a lost limit_conn, no limits
    "CKV_SLM_036": (3, 4),  # pass: both proxies, the unproxied edge server; fail: Ollama behind its proxy, Open WebUI, a download step, host networking
}


def _run(check_id: str, outcome: str):
    reports = [run_compose_checks(yaml.safe_load(p.read_text()), str(p), checks=[check_id])
               for p in fixture_files(check_id, outcome, "compose")]
    return [r for rep in reports for r in rep.passed_checks], [r for rep in reports for r in rep.failed_checks]


def test_registry_matches_expectations():
    assert [c.META.id for c in load_compose_checks()] == COMPOSE_CHECK_IDS == sorted(EXPECTED)


@pytest.mark.parametrize("check_id", COMPOSE_CHECK_IDS)
def test_exact_counts(check_id):
    pass_ok, pass_bad = _run(check_id, "pass")
    fail_ok, fail_bad = _run(check_id, "fail")
    assert not pass_bad, [(r.resource, r.reasons) for r in pass_bad]
    assert not fail_ok, [r.resource for r in fail_ok]
    assert (len(pass_ok), len(fail_bad)) == EXPECTED[check_id]
    assert all(r.resource.startswith("service.") and r.check_id == check_id for r in pass_ok + fail_bad)


def test_record_shape():
    path = fixture_files("CKV_SLM_014", "fail")[0]
    report = run_compose_checks(yaml.safe_load(path.read_text()), "build/dev/compose.yaml")
    rec = next(r for r in report.failed_checks if r.check_id == "CKV_SLM_014")
    assert (rec.resource, rec.file_path, rec.severity) == ("service.ollama", "build/dev/compose.yaml", "HIGH")
    assert rec.check_name.startswith("Ensure ")


@pytest.mark.parametrize("entry, host_ip, published, target", [
    ("127.0.0.1:11434:11434", "127.0.0.1", "11434", "11434"),
    ("11434:11434", "", "11434", "11434"),
    ("0.0.0.0:8000:8000/tcp", "0.0.0.0", "8000", "8000"),
    ("[::1]:8001:8000", "::1", "8001", "8000"),
    (8000, "", "", "8000"),
    ({"target": 8000, "published": "8000", "host_ip": "127.0.0.1"}, "127.0.0.1", "8000", "8000"),
])
def test_parse_port(entry, host_ip, published, target):
    port = parse_port(entry)
    assert (port.host_ip, port.published, port.target) == (host_ip, published, target)


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not any(is_loopback(x) for x in ("", "0.0.0.0", "::", "192.168.1.5"))


def _one(check_id: str, service: dict):
    report = run_compose_checks({"services": {"s": service}}, "compose.yaml", checks=[check_id])
    return [r.reasons for r in report.failed_checks]


@pytest.mark.parametrize("cap_add, bad", [
    (["SYS_ADMIN"], "SYS_ADMIN"),
    (["NET_ADMIN", "NET_BIND_SERVICE"], "NET_ADMIN"),
    (["ALL"], "ALL"),
    (["cap_sys_ptrace"], "SYS_PTRACE"),
])
def test_cap_add_outside_the_allowlist_fails_even_with_cap_drop_all(cap_add, bad):
    failed = _one("CKV_SLM_016", {"image": "x", "cap_drop": ["ALL"], "cap_add": cap_add})
    assert len(failed) == 1 and any(f"cap_add adds {bad}" in reason for reason in failed[0]), failed
    assert "allowed: NET_BIND_SERVICE" in failed[0][-1]


def test_cap_add_net_bind_service_alone_passes():
    assert _one("CKV_SLM_016", {"image": "x", "cap_drop": ["ALL"], "cap_add": ["NET_BIND_SERVICE"]}) == []


@pytest.mark.parametrize("user, message", [
    (None, "no user: the image's default user runs"),
    ("root", "user root runs as root"),
    ("0", "user 0 runs as root"),
    ("0:10001", "runs as root"),
    ("nginx", "is a name"),
    ("101:101", "uid 101 is below 10000"),
    ("9999", "uid 9999 is below 10000"),
])
def test_non_root_user_failures(user, message):
    service = {"image": "x"} if user is None else {"image": "x", "user": user}
    failed = _one("CKV_SLM_020", service)
    assert len(failed) == 1 and message in failed[0][0], failed


@pytest.mark.parametrize("user", ["10000", "10001:10001", "65532:65532", "10001:0"])
def test_non_root_user_passes(user):
    assert _one("CKV_SLM_020", {"image": "x", "user": user}) == []
