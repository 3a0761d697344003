"""``promtool check rules`` on every rendered Prometheus rule file, inside the gate.

A rule file Prometheus cannot load (a bad expression, a broken Go template in an annotation) means
alerting is silently off, so it fails the gate (``PROMTOOL_RULES``), not only the tests. Rule files are
found by shape, not by name: every YAML file under ``files/`` whose top level is ``groups:`` with
``rules:`` lists, and the ``spec`` of every PrometheusRule manifest. A build with rule files and no
``promtool`` on PATH fails the gate with a message saying how to install it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from slm_deploy.gate.result import GATE_CHECKS, Finding

__all__ = ["check_rule_files", "rule_files", "CHECK_ID", "PROMTOOL_TIMEOUT_S"]

CHECK_ID = "PROMTOOL_RULES"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PROMTOOL_TIMEOUT_S = 300
"""How long the one ``promtool check rules`` call of a gate run may take. It checks every rule file of the build at
once and needs well under a second on an idle machine, so this only bounds a hung promtool; a machine loaded by
other work (the test suite's workers, other builds) must not fail the gate, so it is generous."""
INSTALL_HINT = ("install it: apt-get install -y --no-install-recommends prometheus (Debian/Ubuntu), or put the "
                "promtool binary of a Prometheus release on PATH")


def _is_rules(doc: Any) -> bool:
    groups = doc.get("groups") if isinstance(doc, dict) else None
    return isinstance(groups, list) and bool(groups) and all(isinstance(g, dict) and "rules" in g for g in groups)


def _text_is_rules(text: str, store: Any = None) -> bool:
    """Whether a YAML text is a rule file (:func:`_is_rules` of its parse). ``store`` (an
    :class:`~slm_deploy.gate.object_cache.ObjectStore`) keeps the answer per text: a function of the text alone,
    so an unchanged rule file of a large stack (every service's alerts, ~0.5 MB) is not parsed again."""
    import hashlib

    key = "shape:" + hashlib.sha256(text.encode()).hexdigest()
    known = store.get("rules", key) if store is not None else None
    if known is not None:
        return bool(known["rules"])
    try:
        doc = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        doc = None
    if store is not None:
        store.put("rules", key, {"rules": _is_rules(doc)})
    return _is_rules(doc)


def rule_files(build_dir: Path, manifests: dict[Path, Any], store: Any = None,
               build: Any = None) -> list[tuple[str, str]]:
    """``(file in the build dir, rule-file text)`` for every rendered rule file. ``build``: the gate run's one read of
    ``build_dir`` (:class:`~slm_deploy.gate.build_files.BuildFiles`), instead of walking and reading ``files/``."""
    found: list[tuple[str, str]] = []
    if build is not None and "files" not in build.skip_top and not (build_dir / "files").is_symlink():
        # (the walk does not enter a symlinked directory; the search below does)
        from slm_deploy.gate.build_files import _suffix
        from slm_deploy.gate.scan import _read_text

        for rel in build.under("files/"):
            if _suffix(rel.rpartition("/")[2]) in (".yaml", ".yml"):
                text = _read_text(build.data[rel])
                if _text_is_rules(text, store):
                    found.append((rel, text))
    else:
        files = build_dir / "files"
        for path in sorted(files.rglob("*")) if files.is_dir() else ():
            if path.suffix not in (".yaml", ".yml") or not path.is_file():
                continue
            text = path.read_text()
            if _text_is_rules(text, store):
                found.append((path.relative_to(build_dir).as_posix(), text))
    for path, obj in manifests.items():  # JSON is YAML to promtool, and ~20x cheaper to write than PyYAML's output
        if isinstance(obj, dict) and obj.get("kind") == "PrometheusRule":
            found.append((path.relative_to(build_dir).as_posix(), json.dumps(obj.get("spec") or {}, indent=1, default=str)))
    return found


def _finding(file: str, passed_message: str = "", kind: str = "RuleFile") -> Finding:
    return Finding(CHECK_ID, GATE_CHECKS[CHECK_ID][0], f"{kind}.{file}", file, passed_message, severity="HIGH",
                   source="gate", kind=kind, name=file)


def _key(promtool: str, rel: str, text: str) -> str:
    """A rule file's cache key: its place, its text and the promtool binary (path, size, mtime) that judged it."""
    import hashlib

    from slm_deploy.gate.cache import _binary

    return hashlib.sha256(f"{_binary('promtool')}\0{promtool}\0{rel}\0{text}".encode()).hexdigest()


def check_rule_files(build_dir: Path, manifests: dict[Path, Any], store: Any = None,
                     build: Any = None) -> tuple[list[Finding], list[Finding]]:
    """(passed, failed): one finding per rule file; promtool missing fails each of them.

    ``store`` (the gate's :class:`~slm_deploy.gate.object_cache.ObjectStore`): promtool's verdict per rule
    file, keyed on the file's text and the promtool binary; a changed file is always checked again.
    """
    files = rule_files(build_dir, manifests, store, build)
    if not files:
        return [], []
    promtool = shutil.which("promtool")
    if promtool is None:
        return [], [_finding(f, f"promtool is not on PATH, so this rule file cannot be checked; {INSTALL_HINT}")
                    for f, _ in files]
    verdicts: dict[str, dict[str, Any]] = {}
    for rel, text in files:
        known = store.get("rules", _key(promtool, rel, text)) if store is not None else None
        if known is not None:
            verdicts[rel] = known
    todo = [(rel, text) for rel, text in files if rel not in verdicts]
    if todo:
        judged = _promtool_check_rules(promtool, todo)
        verdicts.update(judged)
        if store is not None:
            for rel, text in todo:
                if not judged[rel].get("timed_out"):  # a slow machine, not a verdict on the file
                    store.put("rules", _key(promtool, rel, text), judged[rel])
    passed = [_finding(rel) for rel, _ in files if verdicts[rel]["ok"]]
    failed = [_finding(rel, verdicts[rel]["message"]) for rel, _ in files if not verdicts[rel]["ok"]]
    return passed, failed


def _promtool_check_rules(promtool: str, todo: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """One ``promtool check rules`` call for every file in ``todo`` (one process, not one per file): a verdict per
    file, read from promtool's per-file ``Checking <file>`` report. A file whose report cannot be told apart (an
    unknown promtool output format) is checked again on its own. A timeout is a verdict on the machine, marked
    ``timed_out`` so it is never cached."""
    with tempfile.TemporaryDirectory(prefix="slm-gate-rules-") as tmp:
        names: dict[str, str] = {}
        for n, (rel, text) in enumerate(todo):
            name = f"r{n:05d}.rules.yaml"  # fixed width: no name is a substring of another
            (Path(tmp) / name).write_text(text)
            names[name] = rel
        try:
            proc = subprocess.run([promtool, "check", "rules", *names], cwd=tmp, capture_output=True, text=True,
                                  timeout=PROMTOOL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            message = (f"promtool check rules did not finish within {PROMTOOL_TIMEOUT_S} s for the build's {len(names)} "
                       "rule file(s): the machine is overloaded or promtool hangs (not a verdict on the file, not "
                       "cached); run the gate again")
            return {rel: {"ok": False, "message": message, "timed_out": True} for rel in names.values()}
        reports = _reports(proc.stdout)
        verdicts: dict[str, dict[str, Any]] = {}
        for name, rel in names.items():
            report = reports.get(name)
            if proc.returncode == 0 or (report is not None and "SUCCESS" in report):
                verdicts[rel] = {"ok": True, "message": ""}
            elif report is not None:
                errors = [line for line in proc.stderr.splitlines() if name in line] or [report, proc.stderr]
                verdicts[rel] = {"ok": False, "message": _failure(" ".join(errors), name, rel)}
            else:
                verdicts[rel] = _promtool_check_rules(promtool, [(rel, (Path(tmp) / name).read_text())])[rel] \
                    if len(names) > 1 else {"ok": False, "message": _failure(proc.stdout + proc.stderr, name, rel)}
        return verdicts


def _reports(stdout: str) -> dict[str, str]:
    """promtool's report per file: the lines after each ``Checking <file>`` line."""
    reports: dict[str, str] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("Checking "):
            current = line[len("Checking "):].strip()
            reports[current] = ""
        elif current is not None:
            reports[current] += line + "\n"
    return reports


def _failure(detail: str, name: str, rel: str) -> str:
    return f"promtool check rules: {' '.join(detail.replace(name, rel).split())[:600]}"
