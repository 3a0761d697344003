"""build/<stack>/gate/report.md: the gate's verdict as a document a security reviewer reads top-down.

1. verdict and counts (and what "checks with results" means);
2. failures;
3. every exception: reviewed waivers and stack-file opt-outs (approver, expiry, days left), stale and
   expired waivers;
4. the checks that ran, per resource (``Deployment/phi4-mini``), by severity then id;
5. the checks with nothing to judge in this stack, one line each with the reason.

Findings of any stage (checkov, schemas, compose and manifest-set rules, the gate's own rules) are
reported alike: everything is grouped by the rendered file (and compose service) it is about.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import chain

from slm_deploy.gate.result import Finding, GateResult, Waived

__all__ = ["markdown", "short_name", "natural_key", "severity_rank", "waiver_file_line"]

_SEVERITY_ORDER = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}
_MANIFEST = re.compile(r"^manifests/(?P<ns>[^.]+)\.(?P<kind>[^.]+)\.(?P<name>.+)\.yaml$")


@functools.lru_cache(maxsize=4096)
def natural_key(check_id: str) -> tuple:
    """CKV_K8S_2 before CKV_K8S_10: digit runs compare as numbers. (Cached: a few hundred check ids, tens of
    thousands of calls per 100-service report.)"""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", check_id))


def severity_rank(severity: str) -> int:
    return _SEVERITY_ORDER.get(severity, len(_SEVERITY_ORDER))


def short_name(f: Finding) -> str:
    """``Kind/name`` for a reviewer: ``Deployment/phi4-mini``, ``service/ollama``, ``Dockerfile/files/x``.

    checkov names the pod template of a workload ``Pod.<ns>.<name>.<every label>``; such findings
    belong to the workload whose file they come from, which the caller maps (see :func:`_names_by_file`).
    """
    if f.kind == "Dockerfile":
        return f"Dockerfile/{f.name or f.file}"
    if f.kind and f.name:
        return f"{f.kind}/{f.name}"
    return f.resource


def _names_by_file(findings: Iterable[Finding]) -> dict[str, str]:
    """A manifest file's object, ``Kind/name``: from the first finding that is not the graph's Pod split."""
    names: dict[str, str] = {}
    for f in findings:
        file = f.file
        if file not in names and file.startswith("manifests/") and f.kind not in ("Pod", "") and f.source != "gate":
            names[file] = f"{f.kind}/{f.name}"
    return names


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_md_name = functools.lru_cache(maxsize=4096)(_md)
"""``_md`` of a check name (a few hundred distinct names, one per result row)."""


def waiver_file_line(result: GateResult) -> str:
    """One line naming the waiver file the verdict used (path + sha256), flagging an override."""
    wf = result.waiver_file or {}
    if not wf:
        return "waiver file: -"
    digest = wf.get("sha256") or "(missing: no waivers)"
    note = (" — OVERRIDE: SLM_DEPLOY_WAIVERS replaced policies/waivers.yaml" if wf.get("override") else "")
    return f"waiver file: {wf.get('path')} sha256 {digest}{note}"


def _days_left(expires: str, today: date) -> str:
    try:
        days = (date.fromisoformat(str(expires)) - today).days
    except ValueError:
        return "-"
    return f"{days}" if days >= 0 else f"expired {-days} days ago"


@dataclass
class _Resource:
    name: str
    file: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # severity, check id, result, text
    not_applicable: list[Finding] = field(default_factory=list)


class _Report:
    def __init__(self, result: GateResult, today: date):
        self.r = result
        self.today = today
        self.names = _names_by_file(chain(result.passed, result.failed, (w.finding for w in result.waived),
                                          result.not_applicable))
        self._severities: dict[tuple[str, str], str] = {}

    def name(self, f: Finding) -> str:
        if f.file in self.names and f.source != "gate":
            return self.names[f.file]
        return short_name(f)

    @functools.cached_property
    def kinds(self) -> set[str]:
        """Every kind a finding names (lowercase), computed once per report."""
        kinds = {f.kind.lower() for f in self.r.passed + self.r.failed + self.r.not_applicable}
        return kinds | {w.finding.kind.lower() for w in self.r.waived}

    def renders(self, targets: str) -> bool:
        """Does the stack render anything a check with these targets judges?"""
        kinds = self.kinds
        if targets.startswith("Dockerfile"):
            return "dockerfile" in kinds and targets == "Dockerfiles"
        if targets == "compose services":
            return "service" in kinds
        return bool(kinds & {t.strip().lower() for t in targets.split(",")})

    def severity(self, f: Finding) -> str:
        """The finding's own severity, else its check's, else ``-`` (memoized per severity and check id: the
        per-resource section asks once per result)."""
        memo = (f.severity, f.check_id)
        found = self._severities.get(memo)
        if found is None:
            found = self._severities[memo] = f.severity or self.r.checks.get(f.check_id, {}).get("severity", "") or "-"
        return found

    def check_name(self, check_id: str, fallback: str = "") -> str:
        return self.r.checks.get(check_id, {}).get("name") or fallback or check_id

    # ---------------------------------------------------------------- sections
    def head(self) -> list[str]:
        r = self.r
        verdict = "PASSED" if r.ok else "FAILED"
        with_results = {f.check_id for f in r.passed + r.failed} | {w.finding.check_id for w in r.waived}
        enforced = len(r.checks) or len(with_results)
        waivers = sum(1 for w in r.waived if w.by.source == "waiver")
        opt_outs = len(r.waived) - waivers
        resources = len({self.name(f) for f in r.passed + r.failed + [w.finding for w in r.waived]})
        return [
            f"# Gate report: stack `{r.stack}` — {verdict}",
            "",
            f"**{verdict}**: {len(r.failed)} failed, {len(r.waived)} accepted exceptions "
            f"({waivers} by waiver, {opt_outs} by stack-file opt-out), {len(r.passed)} passed, "
            f"{len(r.not_applicable)} not applicable; {resources} resources in {len(r.scanned)} rendered files.",
            "",
            "| result | count | what it counts |",
            "|---|---:|---|",
            f"| failed | {len(r.failed)} | a check failed on a resource and nothing accepted it: the gate fails |",
            f"| waived | {len(r.waived)} | a failure accepted by a reviewed waiver or a stack-file opt-out (below) |",
            f"| passed | {len(r.passed)} | a check judged a resource and it complied |",
            f"| not applicable | {len(r.not_applicable)} | a control-plane flag check on a workload that runs no "
            "control-plane binary: not counted as passed |",
            f"| checks with results | {len(with_results)} of {enforced} | distinct checks that judged at least one "
            "resource of this stack (passed, failed or waived). The others found nothing of the kinds they "
            "judge here; they are listed at the end, one line each |",
            "",
            "Every severity here is ours: our checks declare theirs, and checkov's built-in checks (which carry "
            "none offline) take the reviewed rating in `policies/builtin_severity.yaml`. The gate fails on any "
            f"unaccepted failure, whatever its severity. Verdict cache key `{r.cache_key[:16]}`.",
            "",
            f"{waiver_file_line(r)}",
            "",
        ]

    def failures(self) -> list[str]:
        lines = ["## Failures", ""]
        if not self.r.failed:
            return lines + ["None.", ""]
        lines += ["| severity | check | resource | file | problem |", "|---|---|---|---|---|"]
        for f in sorted(self.r.failed, key=lambda f: (severity_rank(self.severity(f)), natural_key(f.check_id),
                                                       self.name(f))):
            where = f.file + (f":{f.line}" if f.line else "")
            problem = _md(f.check_name) + (f": {_md(f.message)}" if f.message else "")
            lines.append(f"| {self.severity(f)} | {f.check_id} | {_md(self.name(f))} | {_md(where)} | {problem} |")
        return lines + [""]

    def exceptions(self) -> list[str]:
        r = self.r
        lines = ["## Exceptions (waivers and opt-outs)", ""]
        if r.waived:
            lines += ["| check | resource | accepted by | id | reason | approver | expires | days left |",
                      "|---|---|---|---|---|---|---|---|"]
            for w in sorted(r.waived, key=lambda w: (w.by.source, natural_key(w.finding.check_id), self.name(w.finding))):
                source = "waiver" + (" (inline, backed)" if w.inline else "") if w.by.source == "waiver" else w.by.source
                approver, expires = w.by.approver or "-", w.by.expires or "-"
                days = _days_left(w.by.expires, self.today) if w.by.expires else "-"
                lines.append(
                    f"| {w.finding.check_id} | {_md(self.name(w.finding))} | {_md(source)} | {_md(w.by.ident)} | "
                    f"{_md(w.by.reason)} | {_md(approver)} | {expires} | {days} |")
        else:
            lines.append("No finding of this stack is waived or opted out.")
        lines.append("")
        if r.opt_outs:
            lines += ["Opt-outs declared in the stack file (typed settings with a reason; approved by their own "
                      "approver and expiry or by a waiver):", "",
                      "| component | resource | setting | checks | reason | approver | expires | days left | approved "
                      "| findings accepted |", "|---|---|---|---|---|---|---|---|---|---:|"]
            for o in r.opt_outs:
                container = f" (container {o['container']})" if o.get("container") else ""
                lines.append(f"| {_md(o.get('component', ''))} | {_md(o.get('resource', ''))} | "
                             f"{_md(o.get('setting', ''))}{_md(container)} | {', '.join(o.get('checks') or []) or '-'} | "
                             f"{_md(o.get('reason', ''))} | {_md(o.get('approver') or '-')} | {o.get('expires') or '-'} | "
                             f"{_days_left(o['expires'], self.today) if o.get('expires') else '-'} | "
                             f"{'yes' if o.get('approved') else '**no**'} | {o.get('matched', 0)} |")
            lines.append("")
        for title, rows in (("Stale waivers (match nothing in this stack)", r.stale_waivers),
                            ("Expired waivers (fail the gate)", r.expired_waivers)):
            if rows:
                lines += [f"{title}:", "", "| id | check | resource | reason | approver | expires | days left |",
                          "|---|---|---|---|---|---|---|"]
                for w in rows:
                    lines.append(f"| {_md(w['id'])} | {w['check']} | {_md(w['resource'])} | {_md(w['reason'])} | "
                                 f"{_md(w['approver'])} | {w['expires']} | {_days_left(w['expires'], self.today)} |")
                lines.append("")
        if r.self_waivers:
            lines.append(f"{len(r.self_waivers)} inline suppression(s) in the rendered output with no waiver "
                         "backing them: they fail the gate (see Failures).")
            lines.append("")
        return lines

    def by_resource(self) -> list[str]:
        """Linear in the stack's results (35,000 at 100 services), so written for speed: each result's group,
        severity and row sort key looked up in per-report memos instead of recomputed (tests/gate/
        test_report_identity.py compares it with the plain code it replaced)."""
        r = self.r
        groups: dict[str, _Resource] = {}
        name, severity = self.name, self.severity

        def group(f: Finding) -> _Resource:
            key = name(f)
            found = groups.get(key)
            if found is None:
                found = groups[key] = _Resource(key, f.file)
            return found

        for f in r.failed:
            group(f).rows.append((severity(f), f.check_id, "**FAILED**",
                                  _md(f.check_name) + (f": {_md(f.message)}" if f.message else "")))
        for w in r.waived:
            f = w.finding
            group(f).rows.append((severity(f), f.check_id, "waived", f"{_md(f.check_name)} — {_md(w.by.ident)}"))
        md_name = _md_name
        for f in r.passed:
            group(f).rows.append((severity(f), f.check_id, "passed", md_name(f.check_name)))
        for f in r.not_applicable:
            group(f).not_applicable.append(f)

        lines = ["## Checks by resource", "",
                 "Each resource with the checks that judged it, by severity then check id.", ""]
        def order(name: str) -> tuple:
            rows = groups[name].rows
            return (not any(status == "**FAILED**" for _, _, status, _ in rows), -len(rows), name)

        row_keys: dict[tuple[str, str, str], tuple] = {}

        def row_key(row: tuple[str, str, str, str]) -> tuple:
            memo = row[:3]
            found = row_keys.get(memo)
            if found is None:
                found = row_keys[memo] = (severity_rank(row[0]), natural_key(row[1]), row[2])
            return found

        for name in sorted(groups, key=order):
            g = groups[name]
            counts: dict[str, int] = defaultdict(int)
            for _, _, status, _ in g.rows:
                counts[status.strip("*").lower()] += 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            lines += [f"### {_md(name)}", "", f"`{g.file}` — {summary or 'no results'}", ""]
            if g.rows:
                lines += ["| severity | check | result | what |", "|---|---|---|---|"]
                seen = set()
                for sev, cid, status, text in sorted(g.rows, key=row_key):
                    if (cid, status, text) in seen:  # one row per check and outcome (several containers)
                        continue
                    seen.add((cid, status, text))
                    lines.append(f"| {sev} | {cid} | {status} | {text} |")
                lines.append("")
            if g.not_applicable:
                ids = sorted({f.check_id for f in g.not_applicable}, key=natural_key)
                binaries = sorted({b for f in g.not_applicable for b in _binaries(f.message)})
                lines += [f"Not applicable: {len(ids)} control-plane flag checks ({', '.join(binaries)}); "
                          "no container of this resource runs those binaries.", ""]
        return lines

    def nothing_to_judge(self) -> list[str]:
        r = self.r
        judged = {f.check_id for f in r.passed + r.failed} | {w.finding.check_id for w in r.waived}
        na_reason = {f.check_id: f.message for f in r.not_applicable}
        rows = []
        for cid, info in r.checks.items():
            if cid in judged:
                continue
            if cid in na_reason:
                reason = na_reason[cid].replace("no container here runs", "no container in this stack runs")
            elif info.get("targets"):
                reason = f"judges {info['targets']}; " + (
                    "those rendered here are outside its scope" if self.renders(info["targets"])
                    else "this stack renders none")
            else:
                reason = "nothing of the kind it judges in this stack"
            rows.append((severity_rank(info.get("severity", "")), natural_key(cid), cid, info, reason))
        lines = ["## Checks with nothing to judge in this stack", ""]
        if not rows:
            return lines + ["None: every enforced check judged at least one resource.", ""]
        lines += [f"{len(rows)} enforced checks found nothing to judge here; each is still enforced on every "
                  "stack. One line each: severity, check, reason.", ""]
        for _, _, cid, info, reason in sorted(rows):
            lines.append(f"- {info.get('severity') or '-'} {cid} {_md(info.get('name', ''))} — {reason}")
        return lines + [""]


@functools.lru_cache(maxsize=1024)
def _binaries(message: str) -> tuple[str, ...]:
    m = re.match(r"checks (.+) flags;", message)
    return tuple(m.group(1).split(" or ")) if m else ()


def markdown(result: GateResult, today: date | None = None) -> str:
    report = _Report(result, today or date.today())
    return "\n".join(report.head() + report.failures() + report.exceptions() + report.by_resource()
                     + report.nothing_to_judge())
