from __future__ import annotations

import os

import pytest

from slm_policy_helpers import CHECKS_DIR, K8S_CHECK_IDS, fixture_files


@pytest.fixture(scope="session")
def checkov_report():
    """One in-process checkov scan of every Kubernetes fixture with only our external checks.

    External checks live in a process-global registry, so they are loaded exactly once here.
    """
    os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")
    from checkov.common.bridgecrew.platform_integration import bc_integration
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    bc_integration.skip_download = True  # the CLI's --skip-download: never call the platform
    files = [str(p) for cid in K8S_CHECK_IDS for o in ("pass", "fail") for p in fixture_files(cid, o, "kubernetes")]
    report = Runner().run(
        root_folder=None, files=files, external_checks_dir=[str(CHECKS_DIR)],
        runner_filter=RunnerFilter(framework=["kubernetes"], checks=K8S_CHECK_IDS),
    )
    assert not report.parsing_errors
    return report
