"""Every Kubernetes SLM check, run through checkov's real in-process runner on its fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest

from slm_policy_helpers import K8S_CHECK_IDS

# check id -> (passed, failed) records expected from its pass/ and fail/ fixtures
EXPECTED = {
    "CKV_SLM_001": (2, 4),
    "CKV_SLM_002": (3, 4),
    "CKV_SLM_003": (3, 5),
    "CKV_SLM_004": (2, 6),
    "CKV_SLM_005": (3, 6),
    "CKV_SLM_006": (2, 2),
    "CKV_SLM_007": (2, 3),
    "CKV_SLM_021": (2, 3),
    "CKV_SLM_022": (2, 2),
    "CKV_SLM_023": (2, 3),
    "CKV_SLM_024": (2, 2),
    "CKV_SLM_025": (2, 2),
    "CKV_SLM_026": (2, 2),
    "CKV_SLM_027": (2, 2),
    "CKV_SLM_032": (2, 3),
    "CKV_SLM_033": (3, 5),
    "CKV_SLM_035": (4, 5),  # pass: public-only 443, private/declared API, IPv6 with exceptions, ingress-only
}


def _own(records, check_id: str) -> list:
    """Records of `check_id` on its own fixtures (other checks' fixtures are not designed for it)."""
    return [r for r in records if r.check_id == check_id and Path(r.file_path).parent.parent.name == check_id]


def test_every_k8s_check_has_expectations():
    assert sorted(EXPECTED) == K8S_CHECK_IDS


@pytest.mark.parametrize("check_id", K8S_CHECK_IDS)
def test_exact_counts(checkov_report, check_id):
    passed = _own(checkov_report.passed_checks, check_id)
    failed = _own(checkov_report.failed_checks, check_id)
    assert {Path(r.file_path).parent.name for r in passed} <= {"pass"}, [r.resource for r in passed]
    assert {Path(r.file_path).parent.name for r in failed} <= {"fail"}, [r.resource for r in failed]
    assert (len(passed), len(failed)) == EXPECTED[check_id], (
        [r.resource for r in passed], [r.resource for r in failed])


@pytest.mark.parametrize("check_id", K8S_CHECK_IDS)
def test_checks_carry_severity_and_guideline(checkov_report, check_id):
    from checkov.kubernetes.checks.resource.registry import registry

    checks = [c for group in registry.checks.values() for c in group if c.id == check_id]
    assert checks, f"{check_id} not registered"
    assert {c.severity.name for c in checks} <= {"LOW", "MEDIUM", "HIGH", "CRITICAL"}
    assert all(c.guideline and c.guideline.startswith("https://") for c in checks)
