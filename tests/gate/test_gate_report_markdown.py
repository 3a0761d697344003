"""report.md reads top-down for a reviewer: verdict and counts, failures, exceptions, checks per resource
(short names, severity then natural id order), control-plane flag checks not counted as passed."""
from __future__ import annotations

import copy
import re
from datetime import date, timedelta

import pytest

from gate_helpers import IN_30_DAYS, PLAIN_DEPLOYMENT, REPO, waiver, write_build, write_waivers
from slm_deploy.gate import run_gate
from slm_deploy.gate.markdown_report import markdown, natural_key, severity_rank

SCREEN_LINES = 40  # a conservative terminal / review-pane height


def _section(md: str, heading: str) -> list[str]:
    lines = md.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start + 1:end]


@pytest.fixture
def plain(tmp_path):
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    path = write_waivers(tmp_path / "w.yaml", [waiver("CKV_K8S_43", "Deployment/plain", id="W-DIGEST")])
    return build, run_gate(build, "t", use_cache=False, waivers_path=path)


def test_order_is_verdict_failures_exceptions_resources_then_nothing_to_judge(plain):
    build, _ = plain
    md = (build / "gate" / "report.md").read_text()
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## Failures", "## Exceptions (waivers and opt-outs)", "## Checks by resource",
                        "## Checks with nothing to judge in this stack"]
    assert md.splitlines()[0] == "# Gate report: stack `t` — FAILED"
    assert "| checks with results |" in md and "distinct checks that judged at least one resource" in md


def test_resource_rows_sort_by_severity_then_natural_id(plain):
    build, result = plain
    md = (build / "gate" / "report.md").read_text()
    rows = [line.split(" | ") for line in _section(md, "### Deployment/plain") if line.startswith("| ") and
            not line.startswith("| severity") and not line.startswith("|---")]
    keys = [(severity_rank(r[0].strip("| ")), natural_key(r[1])) for r in rows]
    assert keys == sorted(keys) and len(rows) > 20
    ids = [r[1] for r in rows if r[0].strip("| ") == "LOW"]
    assert ids.index("CKV_K8S_8") < ids.index("CKV_K8S_10") < ids.index("CKV_K8S_40")  # not text order
    assert natural_key("CKV_K8S_2") < natural_key("CKV_K8S_10") < natural_key("CKV_K8S_100")
    assert not any(r[0].strip("| ") == "-" for r in rows), "every built-in check carries our severity"


def test_exceptions_list_approver_expiry_and_days_left(plain):
    _, result = plain
    md = markdown(result, today=date.fromisoformat(IN_30_DAYS) - timedelta(days=12))
    [row] = [line for line in _section(md, "## Exceptions (waivers and opt-outs)") if "W-DIGEST" in line]
    assert "| CKV_K8S_43 | Deployment/plain | waiver | W-DIGEST |" in row
    assert f"reviewer@example.com | {IN_30_DAYS} | 12 |" in row


def test_short_resource_names_for_graph_pods(plain):
    build, result = plain
    assert any(f.resource.startswith("Pod.") for f in result.passed + result.failed)  # checkov's pod split
    md = (build / "gate" / "report.md").read_text()
    assert "### Pod" not in md and "Pod.demo" not in md
    assert [line for line in md.splitlines() if line.startswith("### ")] == ["### Deployment/plain"]


def test_control_plane_flag_checks_are_not_applicable_on_workloads(plain):
    _, result = plain
    na = {f.check_id for f in result.not_applicable}
    assert {"CKV_K8S_68", "CKV_K8S_116", "CKV_K8S_138", "CKV_K8S_107", "CKV_K8S_114", "CKV_K8S_112"} <= na
    assert not na & {f.check_id for f in result.passed}
    md = markdown(result)
    assert "Not applicable: " in md and "no container of this resource runs those binaries" in md
    line = next(x for x in md.splitlines() if x.startswith("- ") and " CKV_K8S_68 " in x)
    assert "checks kube-apiserver flags; no container in this stack runs kube-apiserver" in line


def test_control_plane_checks_still_judge_a_real_api_server(tmp_path):
    api = copy.deepcopy(PLAIN_DEPLOYMENT)
    api["metadata"]["name"] = "apiserver"
    api["spec"]["template"]["spec"]["containers"][0]["command"] = ["kube-apiserver", "--anonymous-auth=true"]
    result = run_gate(write_build(tmp_path / "b", [api]), "t", use_cache=False)
    assert "CKV_K8S_68" in {f.check_id for f in result.failed}
    assert "CKV_K8S_69" in {f.check_id for f in result.passed}  # judged, and it complied
    assert not {f.check_id for f in result.not_applicable} & {"CKV_K8S_68", "CKV_K8S_69"}
    assert "CKV_K8S_116" in {f.check_id for f in result.not_applicable}  # an etcd check stays n/a


def test_nothing_to_judge_is_one_line_each_with_a_reason(plain):
    build, result = plain
    md = (build / "gate" / "report.md").read_text()
    lines = [x for x in _section(md, "## Checks with nothing to judge in this stack") if x.startswith("- ")]
    judged = {f.check_id for f in result.passed + result.failed} | {w.finding.check_id for w in result.waived}
    assert len(lines) == len(set(result.checks) - judged)
    docker = next(x for x in lines if " CKV_DOCKER_2 " in x)
    assert docker.endswith("judges Dockerfiles; this stack renders none")
    psp = next(x for x in lines if " CKV_K8S_1 " in x)
    assert psp.startswith("- CRITICAL CKV_K8S_1 ") and "judges PodSecurityPolicy; this stack renders none" in psp
    assert "| CKV_DOCKER_2" not in md  # collapsed, never a table row


@pytest.mark.parametrize("stack", ["prod"])
def test_prod_report_fits_on_two_screens_before_the_detail(tmp_path, monkeypatch, stack):
    from stacks.loader import load_stack
    from slm_deploy.pipeline import build_stack

    monkeypatch.setenv("SLM_DEPLOY_WAIVERS", str(REPO / "policies" / "waivers.yaml"))
    build = build_stack(load_stack(stack, REPO), tmp_path / stack)
    md = (tmp_path / stack / "gate" / "report.md").read_text().splitlines()
    head = md[:md.index("## Checks by resource")]
    assert len(head) <= 2 * SCREEN_LINES, len(head)
    assert all(len(line) <= 400 for line in head)
    # the counts the head states are the verdict's own
    text = "\n".join(head)
    assert f"| passed | {len(build.gate.passed)} |" in text
    assert f"| not applicable | {len(build.gate.not_applicable)} |" in text
    passed_ids = {f.check_id for f in build.gate.passed}
    assert not passed_ids & {"CKV_K8S_68", "CKV_K8S_90", "CKV_K8S_116", "CKV_K8S_138"}
    sections = [line for line in md if line.startswith("### ")]
    assert "### Deployment/phi4-mini" in sections and all(len(s) < 80 for s in sections)
    assert not any(re.search(r"\bPod\.", line) for line in md)
