"""The reports' faster code writes byte for byte what the code before it wrote, for the same verdict.

JUnit is written line by line instead of through an ElementTree (``_junit_reference`` below is the ElementTree
code it replaced); the Markdown report caches pure helpers (check-id sort keys, escaped check names, the binaries
named in a not-applicable message) and groups its per-resource section through per-report memos
(``_by_resource_reference`` below is the code it replaced). Compared on the reference stacks' real verdicts, on a gated build with
failures and waivers, and on generated verdicts whose texts hold everything XML and Markdown escape.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate_helpers import PLAIN_DEPLOYMENT, waiver, write_build, write_waivers
from slm_deploy.gate import markdown_report, run_gate
from slm_deploy.gate.reports import junit_xml
from slm_deploy.gate.result import Finding, GateResult, Waived, WaiverRef


def _junit_reference(result: GateResult) -> str:
    """slm_deploy.gate.reports.junit_xml as it was (ElementTree, ET.indent, ET.tostring)."""
    cases: dict[str, list[tuple[Finding, str, str]]] = defaultdict(list)
    for f in result.passed:
        cases[f.check_id].append((f, "passed", ""))
    for f in result.failed:
        cases[f.check_id].append((f, "failed", f.message))
    for w in result.waived:
        cases[w.finding.check_id].append((w.finding, "skipped", f"waived ({w.by.source} {w.by.ident}): {w.by.reason}"))
    root = ET.Element("testsuites", name=f"slm-deploy gate: {result.stack}")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for check_id in sorted(cases):
        rows = cases[check_id]
        failures = sum(1 for _, s, _ in rows if s == "failed")
        skipped = sum(1 for _, s, _ in rows if s == "skipped")
        suite = ET.SubElement(root, "testsuite", name=check_id, tests=str(len(rows)), failures=str(failures),
                              errors="0", skipped=str(skipped))
        props = ET.SubElement(suite, "properties")
        for key, value in sorted(result.waiver_file.items()):
            ET.SubElement(props, "property", name=f"waiverFile.{key}", value=str(value).lower()
                          if isinstance(value, bool) else str(value))
        for f, status, text in sorted(rows, key=lambda r: (r[0].resource, r[0].file)):
            case = ET.SubElement(suite, "testcase", classname=f"{result.stack}.{check_id}",
                                 name=f"{f.resource} [{f.file}]", file=f.file)
            if status == "failed":
                failure = ET.SubElement(case, "failure", message=f.check_name, type=check_id)
                failure.text = text or f.check_name
            elif status == "skipped":
                ET.SubElement(case, "skipped", message=text)
        totals["tests"] += len(rows)
        totals["failures"] += failures
        totals["skipped"] += skipped
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _names_by_file_reference(findings: list[Finding]) -> dict[str, str]:
    """markdown_report._names_by_file as it was."""
    names: dict[str, str] = {}
    for f in findings:
        if f.file.startswith("manifests/") and f.kind not in ("Pod", "") and f.source != "gate":
            names.setdefault(f.file, f"{f.kind}/{f.name}")
    return names

def _by_resource_reference(self) -> list[str]:
    """markdown_report._Report.by_resource as it was before its memos (plain per-result calls)."""
    r = self.r
    groups: dict[str, _Resource] = {}

    def group(f: Finding) -> _Resource:
        key = self.name(f)
        return groups.setdefault(key, markdown_report._Resource(key, f.file))

    for f in r.failed:
        group(f).rows.append((self.severity(f), f.check_id, "**FAILED**",
                              markdown_report._md(f.check_name) + (f": {markdown_report._md(f.message)}" if f.message else "")))
    for w in r.waived:
        f = w.finding
        group(f).rows.append((self.severity(f), f.check_id, "waived", f"{markdown_report._md(f.check_name)} — {markdown_report._md(w.by.ident)}"))
    for f in r.passed:
        group(f).rows.append((self.severity(f), f.check_id, "passed", markdown_report._md_name(f.check_name)))
    for f in r.not_applicable:
        group(f).not_applicable.append(f)

    lines = ["## Checks by resource", "",
             "Each resource with the checks that judged it, by severity then check id.", ""]
    def order(name: str) -> tuple:
        rows = groups[name].rows
        return (not any(status == "**FAILED**" for _, _, status, _ in rows), -len(rows), name)

    for name in sorted(groups, key=order):
        g = groups[name]
        counts = defaultdict(int)
        for _, _, status, _ in g.rows:
            counts[status.strip("*").lower()] += 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        lines += [f"### {markdown_report._md(name)}", "", f"`{g.file}` — {summary or 'no results'}", ""]
        if g.rows:
            lines += ["| severity | check | result | what |", "|---|---|---|---|"]
            seen = set()
            for sev, cid, status, text in sorted(g.rows, key=lambda x: (markdown_report.severity_rank(x[0]), markdown_report.natural_key(x[1]),
                                                                        x[2])):
                if (cid, status, text) in seen:  # one row per check and outcome (several containers)
                    continue
                seen.add((cid, status, text))
                lines.append(f"| {sev} | {cid} | {status} | {text} |")
            lines.append("")
        if g.not_applicable:
            ids = sorted({f.check_id for f in g.not_applicable}, key=markdown_report.natural_key)
            binaries = sorted({b for f in g.not_applicable for b in markdown_report._binaries(f.message)})
            lines += [f"Not applicable: {len(ids)} control-plane flag checks ({', '.join(binaries)}); "
                      "no container of this resource runs those binaries.", ""]
    return lines


def _markdown_reference(result: GateResult, monkeypatch) -> str:
    """The Markdown report with the cached helpers swapped for the uncached functions they wrap."""
    binaries = markdown_report._binaries.__wrapped__
    with monkeypatch.context() as mp:
        mp.setattr(markdown_report, "natural_key", markdown_report.natural_key.__wrapped__)
        mp.setattr(markdown_report, "_binaries", lambda message: list(binaries(message)))
        mp.setattr(markdown_report, "_md_name", markdown_report._md)
        mp.setattr(markdown_report._Report, "by_resource", _by_resource_reference)
        mp.setattr(markdown_report, "_names_by_file", lambda findings: _names_by_file_reference(list(findings)))
        return markdown_report.markdown(result, date(2026, 12, 1))


def _assert_identical(result: GateResult, monkeypatch) -> None:
    assert junit_xml(result) == _junit_reference(result)
    assert markdown_report.markdown(result, date(2026, 12, 1)) == _markdown_reference(result, monkeypatch)


@pytest.mark.parametrize("stack", ["prod", "dev", "staging", "edge", "cpu"])
def test_reference_stack_reports_are_byte_identical(stack, built, monkeypatch):
    result = built(stack).gate
    assert result.passed
    _assert_identical(result, monkeypatch)


def test_failures_and_waivers_are_byte_identical(tmp_path, monkeypatch):
    build = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    path = write_waivers(tmp_path / "w.yaml", [waiver("CKV_K8S_43", "Deployment/plain", id="W-DIGEST")])
    result = run_gate(build, "t", use_cache=False, waivers_path=path, write_reports=False)
    assert result.failed and result.waived
    _assert_identical(result, monkeypatch)
    _assert_identical(GateResult("empty"), monkeypatch)  # no results at all: an empty root element


_odd = st.text(st.sampled_from(list("aZ0 |&<>\"'\r\n\t-_.:/é\x7f")), max_size=12)
_finding = st.builds(
    Finding, check_id=st.sampled_from(["CKV_K8S_2", "CKV_K8S_10", "CKV_SLM_034", "K8S_SCHEMA", "X"]),
    check_name=_odd, resource=_odd, file=_odd, message=_odd,
    severity=st.sampled_from(["", "LOW", "HIGH", "CRITICAL"]),
    source=st.sampled_from(["checkov", "gate", "manifest-set"]), kind=st.sampled_from(["", "Pod", "Deployment"]),
    name=_odd, line=st.integers(0, 3))


@settings(max_examples=150, deadline=None)
@given(passed=st.lists(_finding, max_size=5), failed=st.lists(_finding, max_size=4),
       waived=st.lists(st.builds(Waived, _finding, st.builds(WaiverRef, st.sampled_from(["waiver", "opt-out"]), _odd, _odd)),
                       max_size=3),
       waiver_file=st.dictionaries(st.sampled_from(["path", "sha256", "override"]),
                                   st.one_of(_odd, st.booleans()), max_size=3),
       not_applicable=st.lists(st.builds(Finding, check_id=st.sampled_from(["CKV_K8S_90", "CKV_K8S_2", "X"]),
                                         check_name=_odd, resource=_odd, file=_odd,
                                         message=st.sampled_from(["checks kube-apiserver flags; no container here runs "
                                                                  "it", "checks etcd or kubelet flags; x", "other"]),
                                         kind=st.sampled_from(["", "Pod", "Deployment"]), name=_odd), max_size=4),
       checks=st.dictionaries(st.sampled_from(["CKV_K8S_2", "CKV_K8S_10", "CKV_SLM_034", "CKV_K8S_90", "Y"]),
                              st.fixed_dictionaries({"name": _odd, "severity": st.sampled_from(["", "LOW", "HIGH"])}),
                              max_size=4))
def test_generated_verdicts_are_byte_identical(passed, failed, waived, waiver_file, not_applicable, checks):
    result = GateResult("s&<\"t", passed=passed, failed=failed, waived=waived, waiver_file=waiver_file,
                        not_applicable=not_applicable, checks=checks)
    with pytest.MonkeyPatch.context() as mp:
        _assert_identical(result, mp)
