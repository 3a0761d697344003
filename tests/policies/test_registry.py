"""The catalog lists every check once, with the metadata the issue requires, without importing checkov."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from policies.registry import list_slm_checks
from slm_policy_helpers import CHECKS_DIR, COMPOSE_CHECK_IDS, K8S_CHECK_IDS, MANIFEST_SET_CHECK_IDS, fixture_files


def test_catalog_is_complete_and_well_formed():
    metas = list_slm_checks()
    assert [m.id for m in metas] == sorted(K8S_CHECK_IDS + MANIFEST_SET_CHECK_IDS + COMPOSE_CHECK_IDS)
    for m in metas:
        assert re.fullmatch(r"CKV_SLM_\d{3}", m.id)
        assert m.name.startswith("Ensure ") and m.severity in {"LOW", "MEDIUM", "HIGH", "CRITICAL"}
        assert m.reference.startswith("https://") and len(m.rationale) > 80
        assert m.framework in {"kubernetes", "manifest-set", "compose"}
        assert fixture_files(m.id, "pass", m.framework) and fixture_files(m.id, "fail", m.framework), m.id


def test_one_checkov_check_per_module():
    modules = [p for p in CHECKS_DIR.glob("*.py") if not p.name.startswith("_")]
    assert len(modules) == len(K8S_CHECK_IDS)
    assert all(p.read_text().rstrip().splitlines()[-1].startswith("check = ") for p in modules)


def test_rules_and_registry_do_not_import_checkov():
    code = ("import sys, policies.registry, policies.rules.manifest_set, policies.compose; "
            "print(any(m == 'checkov' or m.startswith('checkov.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
