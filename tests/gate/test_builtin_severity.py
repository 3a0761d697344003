"""policies/builtin_severity.yaml (our reviewed rating of checkov's built-in checks) covers every built-in
kubernetes and dockerfile check of the installed checkov, exactly once, and its control-plane scopes match
what each check really inspects."""
from __future__ import annotations

import inspect
import re

import pytest

from policies.builtin_severity import SEVERITIES, SEVERITY_FILE, builtin_ratings
from slm_deploy.gate.scan import builtin_checks

CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "etcd")


@pytest.fixture(scope="module")
def installed():
    return {c["id"]: c for c in builtin_checks()}


def test_every_installed_builtin_check_is_rated_exactly_once(installed):
    ratings = builtin_ratings()  # raises on a duplicate id or an unknown severity
    assert len(installed) > 140  # all kubernetes + dockerfile checks, resource and graph
    assert {c["framework"] for c in installed.values()} == {"kubernetes", "dockerfile"}
    missing = sorted(set(installed) - set(ratings))
    unknown = sorted(set(ratings) - set(installed))
    assert not missing, f"rate these new checkov checks in {SEVERITY_FILE.name}: {missing}"
    assert not unknown, f"{SEVERITY_FILE.name} rates checks checkov does not have: {unknown}"
    assert {r.severity for r in ratings.values()} <= set(SEVERITIES)
    assert all(r.why for r in ratings.values())


def test_the_file_says_the_ratings_are_ours():
    head = SEVERITY_FILE.read_text().split("groups:")[0]
    assert "OURS" in head and "NOT checkov's" in head


def _checkov_objects():
    from slm_deploy.gate.scan import _prepare

    _prepare()
    from checkov.dockerfile.registry import registry as docker_registry
    from checkov.kubernetes.checks.resource.registry import registry as k8s_registry

    objects = {}
    for registry in (k8s_registry, docker_registry):
        for group in list(registry.checks.values()) + list(registry.wildcard_checks.values()):
            for check in group:
                objects[check.id] = check
    return objects


def test_control_plane_scopes_match_what_each_check_inspects(installed):
    """`runs` must name exactly the binaries a check's source looks for in a container command."""
    ratings = builtin_ratings()
    for check_id, check in _checkov_objects().items():
        if check_id not in installed:
            continue
        source = inspect.getsource(inspect.getmodule(type(check)))
        named = {b for b in CONTROL_PLANE if re.search(rf"[\"']{re.escape(b)}[\"']", source)}
        assert set(ratings[check_id].runs) == named, (check_id, ratings[check_id].runs, named)


def test_catalog_and_reports_carry_the_rating():
    from slm_deploy.gate.catalog import enforced_checks

    entries = {e.id: e for e in enforced_checks()}
    ratings = builtin_ratings()
    assert entries["CKV_K8S_16"].severity == "CRITICAL" == ratings["CKV_K8S_16"].severity
    assert all(e.severity for e in entries.values()), [e.id for e in entries.values() if not e.severity]


def test_the_rating_file_reads_the_same_with_the_pure_python_parser():
    import yaml

    from policies.builtin_severity import SEVERITY_FILE

    text = SEVERITY_FILE.read_text()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text)  # builtin_ratings parses with libyaml
