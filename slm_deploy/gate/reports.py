"""Gate reports in build/<stack>/gate/: SARIF 2.1.0, JUnit XML, Markdown for reviewers, verdict.json.

The Markdown report is :mod:`slm_deploy.gate.markdown_report`.

Pure Python (no checkov import), so a cached verdict can be re-reported instantly.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from xml.sax.saxutils import escape

from slm_deploy.gate.markdown_report import markdown, waiver_file_line
from slm_deploy.gate.result import Finding, GateResult, Waived

__all__ = ["write_reports", "sarif", "junit_xml", "markdown", "waiver_file_line", "SARIF_SCHEMA_URI", "SRCROOT"]

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "3.0"}
_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "error", "LOW": "warning"}


SRCROOT = "%SRCROOT%"  # the repository root: code scanning resolves artifact URIs against the checkout
BUILDROOT = "BUILDROOT"  # a build dir outside the repository (tests, --out /tmp/...)


def _artifact_base(build_dir: Path) -> tuple[str, str, str]:
    """(uriBaseId, prefix of every artifact URI, absolute file URI of the base).

    Inside the repository (the default build/<stack>/), URIs are repository-relative
    (``build/<stack>/manifests/...``) against ``%SRCROOT%``, which is what GitHub code scanning and
    other SARIF viewers resolve against the checkout. Outside it, they are relative to the build dir
    against ``BUILDROOT``, whose absolute location is given in ``originalUriBaseIds``.
    """
    from slm_deploy.gate.result import project_root

    build = build_dir.resolve()
    root = project_root().resolve()
    try:
        base = build.relative_to(root).as_posix()
    except ValueError:
        return BUILDROOT, "", build.as_uri() + "/"
    return SRCROOT, f"{base}/" if base != "." else "", root.as_uri() + "/"


def _artifact_location(build_dir: Path, rel: str) -> dict:
    """Where a finding's file really is. Findings name files relative to the build dir, except files
    the gate reads from the repository (``policies/waivers.yaml``: repository-relative) or from
    elsewhere (``SLM_DEPLOY_WAIVERS=/tmp/...``: absolute)."""
    from slm_deploy.gate.result import project_root

    if rel and Path(rel).is_absolute():
        return {"uri": Path(rel).resolve().as_uri()}
    if rel and not (build_dir / rel).exists() and (project_root() / rel).exists():
        return {"uri": Path(rel).as_posix(), "uriBaseId": SRCROOT}
    base_id, prefix, _ = _artifact_base(build_dir)
    return {"uri": f"{prefix}{rel}" if rel else prefix.rstrip("/") or ".", "uriBaseId": base_id}


def _tool_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("slm-deploy")
    except metadata.PackageNotFoundError:
        return "0"


def _rule(check_id: str, info: dict[str, str]) -> dict:
    name = info.get("name") or check_id
    rule: dict = {
        "id": check_id,
        "shortDescription": {"text": name},
        "fullDescription": {"text": name},
        "properties": {"tags": ["security", info.get("framework") or "iac"]},
    }
    if info.get("guideline", "").startswith("http"):
        rule["helpUri"] = info["guideline"]
    sev = info.get("severity", "")
    if sev:
        rule["properties"]["security-severity"] = _SECURITY_SEVERITY.get(sev, "5.5")
        rule["properties"]["problem.severity"] = "warning" if sev == "LOW" else "error"
    return rule


def _location(build_dir: Path, f: Finding) -> dict:
    physical: dict = {"artifactLocation": _artifact_location(build_dir, f.file)}
    if f.line > 0:
        physical["region"] = {"startLine": f.line}
    return {"physicalLocation": physical, "logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}]}


def _suppression(waived: Waived) -> dict:
    """A waived finding stays in the report, suppressed: code scanning shows it as dismissed with the reason."""
    by = waived.by
    props = {"source": by.source, "id": by.ident}
    if by.approver:
        props["approver"] = by.approver
    if by.expires:
        props["expires"] = by.expires
    props["inlineSuppression"] = waived.inline
    return {"kind": "inSource" if waived.inline else "external", "status": "accepted",
            "justification": by.reason or f"{by.source} {by.ident}", "properties": props}


def _base_ids(base_id: str, base_uri: str, base_text: str) -> dict:
    from slm_deploy.gate.result import project_root

    ids = {base_id: {"uri": base_uri, "description": {"text": base_text}}}
    ids.setdefault(SRCROOT, {"uri": project_root().resolve().as_uri() + "/",
                             "description": {"text": "The repository root (policies/waivers.yaml and other sources)"}})
    return ids


def sarif(result: GateResult, build_dir: Path) -> dict:
    results_in = [(f, None) for f in result.failed] + [(w.finding, w) for w in result.waived]
    rule_ids = sorted({f.check_id for f, _ in results_in})
    rules = [_rule(cid, result.checks.get(cid, {})) for cid in rule_ids]
    index = {cid: i for i, cid in enumerate(rule_ids)}
    base_id, _, base_uri = _artifact_base(build_dir)
    base_text = ("The repository root (artifact URIs are repository-relative: build/<stack>/...)" if base_id == SRCROOT
                 else "The rendered build directory (outside the repository)")
    results = []
    for f, waived in results_in:
        sev = f.severity or result.checks.get(f.check_id, {}).get("severity", "")
        entry: dict = {
            "ruleId": f.check_id,
            "ruleIndex": index[f.check_id],
            "level": _LEVEL.get(sev, "error"),
            "message": {"text": f"{f.check_name} ({f.resource})" + (f": {f.message}" if f.message else "")},
            "locations": [_location(build_dir, f)],
            "partialFingerprints": {"slmDeployResource/v1": f"{result.stack}:{f.check_id}:{f.resource}"},
        }
        if waived is not None:
            entry["suppressions"] = [_suppression(waived)]
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "slm-deploy-gate",
                "fullName": "slm-deploy gate (checkov built-in kubernetes/dockerfile checks + SLM checks)",
                "version": _tool_version(),
                "informationUri": "https://www.checkov.io/",
                "rules": rules,
            }},
            "automationDetails": {"id": f"slm-deploy/{result.stack}/"},
            "originalUriBaseIds": _base_ids(base_id, base_uri, base_text),
            "invocations": [{"executionSuccessful": True, "properties": {
                "gateOk": result.ok, "cached": result.cached, "waiverFile": result.waiver_file}}],
            "results": results,
            "properties": {"stack": result.stack, "passed": len(result.passed), "failed": len(result.failed),
                           "waived": len(result.waived), "waiverFile": result.waiver_file},
        }],
    }


_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}
"""What ElementTree escapes in an attribute beyond ``& < >`` (``xml.etree.ElementTree._escape_attrib``, Python 3.11)."""


_ATTRIBUTE_SPECIAL = re.compile(r'[&<>"\r\n\t]')
_TEXT_SPECIAL = re.compile(r"[&<>]")


def _attr(text: str) -> str:
    """ElementTree's attribute escaping: ``& < >`` (as in text) plus :data:`_ATTRIBUTE_ENTITIES`. (Most values have
    nothing to escape: a 100-service JUnit report has ~60,000 attributes; those are returned as they are.)"""
    return escape(text, _ATTRIBUTE_ENTITIES) if _ATTRIBUTE_SPECIAL.search(text) else text


def _text(text: str) -> str:
    """ElementTree's text escaping (``& < >``)."""
    return escape(text) if _TEXT_SPECIAL.search(text) else text


def _open(tag: str, attrs: list[tuple[str, str]]) -> str:
    return "<" + tag + "".join(f' {k}="{_attr(v)}"' for k, v in attrs)


def _by_resource_and_file(row: tuple[Finding, str, str]) -> tuple[str, str]:
    return row[0].resource, row[0].file


def junit_xml(result: GateResult) -> str:
    """JUnit XML, one testsuite per check, one testcase per result.

    Written line by line: byte for byte what ElementTree wrote for the same tree after ``ET.indent`` (two spaces)
    and ``ET.tostring(encoding="unicode")`` (tests/gate/test_gate_reports.py compares both), without building
    tens of thousands of elements for a large stack."""
    cases: dict[str, list[tuple[Finding, str, str]]] = defaultdict(list)
    for f in result.passed:
        cases[f.check_id].append((f, "passed", ""))
    for f in result.failed:
        cases[f.check_id].append((f, "failed", f.message))
    for w in result.waived:
        cases[w.finding.check_id].append((w.finding, "skipped", f"waived ({w.by.source} {w.by.ident}): {w.by.reason}"))
    props = [("property", [("name", f"waiverFile.{key}"), ("value", str(value).lower() if isinstance(value, bool)
                                                                        else str(value))])
             for key, value in sorted(result.waiver_file.items())]
    body: list[str] = []
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    cases_of: dict[tuple[str, str], str] = {}  # (resource, file) -> its escaped name and file attributes
    for check_id in sorted(cases):
        rows = cases[check_id]
        failures = sum(1 for _, s, _ in rows if s == "failed")
        skipped = sum(1 for _, s, _ in rows if s == "skipped")
        body.append("  " + _open("testsuite", [("name", check_id), ("tests", str(len(rows))),
                                               ("failures", str(failures)), ("errors", "0"), ("skipped", str(skipped))])
                    + ">\n")
        if props:
            body.append("    <properties>\n")
            body += ["      " + _open(tag, attrs) + " />\n" for tag, attrs in props]
            body.append("    </properties>\n")
        else:
            body.append("    <properties />\n")
        case_start = '    <testcase classname="' + _attr(f"{result.stack}.{check_id}") + '" name="'
        for f, status, text in sorted(rows, key=_by_resource_and_file):
            where = (f.resource, f.file)
            attrs = cases_of.get(where)
            if attrs is None:  # one per resource and file (a 100-service stack: ~1,400 for ~35,000 cases)
                attrs = cases_of[where] = _attr(f"{f.resource} [{f.file}]") + '" file="' + _attr(f.file) + '"'
            case = case_start + attrs
            if status == "failed":
                inner = _open("failure", [("message", f.check_name), ("type", check_id)])
                content = text or f.check_name
                inner += f">{_text(content)}</failure>" if content else " />"
            elif status == "skipped":
                inner = _open("skipped", [("message", text)]) + " />"
            else:
                body.append(case + " />\n")
                continue
            body.append(case + ">\n      " + inner + "\n    </testcase>\n")
        body.append("  </testsuite>\n")
        totals["tests"] += len(rows)
        totals["failures"] += failures
        totals["skipped"] += skipped
    root = _open("testsuites", [("name", f"slm-deploy gate: {result.stack}")]
                 + [(k, str(v)) for k, v in totals.items()] + [("errors", "0")])
    if body:  # the last child's closing line ends the root's indentation ("\n" at level 0)
        xml = root + ">\n" + "".join(body) + "</testsuites>"
    else:
        xml = root + " />"
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n"


def write_reports(result: GateResult, build_dir: Path) -> dict[str, str]:
    out = build_dir / "gate"
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "sarif": out / "report.sarif",
        "junit": out / "junit.xml",
        "markdown": out / "report.md",
        "verdict": out / "verdict.json",
    }
    paths["sarif"].write_text(json.dumps(sarif(result, build_dir), indent=2) + "\n")
    paths["junit"].write_text(junit_xml(result))
    paths["markdown"].write_text(markdown(result))
    verdict = {"stack": result.stack, "ok": result.ok, "cached": result.cached, "cacheKey": result.cache_key,
               "passed": len(result.passed), "failed": len(result.failed), "waived": len(result.waived),
               "notApplicable": len(result.not_applicable),
               "staleWaivers": result.stale_waivers, "expiredWaivers": result.expired_waivers,
               "selfWaivers": [f.resource + " " + f.check_id for f in result.self_waivers],
               "waiverFile": result.waiver_file,
               "failures": [{"check": f.check_id, "resource": f.resource, "file": f.file, "message": f.message}
                            for f in result.failed]}
    paths["verdict"].write_text(json.dumps(verdict, indent=2, sort_keys=True) + "\n")
    return {k: str(v) for k, v in paths.items()}
