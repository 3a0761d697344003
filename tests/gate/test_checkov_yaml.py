"""The gate's libyaml loader for checkov (slm_deploy/gate/checkov_yaml.py) gives checkov's own output."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import tomllib
import yaml
from checkov.kubernetes.parser import k8_yaml

from gate_helpers import REPO
from slm_deploy.gate import checkov_yaml

GOLDEN_MANIFESTS = sorted((REPO / "tests" / "golden").glob("*/manifests/*.yaml"))

EDGE_CASES = [
    "a: 1\n",
    "a: {b: 1, c: [1, {d: 2}]}\n",
    "apiVersion: v1\nkind: ConfigMap\ndata:\n  x: |\n    line 1\n\n    line 3\n  y: >-\n    folded\n    text\n# trailing comment\n",
    "---\na: 1\n---\nb:\n  c: 2\n...\n",
    "list:\n- a: 1\n  b: 2\n- c: 3\n\n\n",
    "key: value\nnested:\n    deep:\n        deeper: [1, 2]\n    after: x",
    "anchors:\n  base: &b {x: 1}\n  ref: *b\n",
    "'quoted key': \"v\"\nempty:\nnull_value: ~\n",
]


def _checkov_loader() -> type:
    """checkov's own SafeLineLoader, whether or not the gate has installed its replacement."""
    loader = checkov_yaml.checkov_loader()
    assert loader.__module__ == "checkov.kubernetes.parser.k8_yaml" and loader.__name__ == "SafeLineLoader"
    return loader


def _variants(text: str) -> list[str]:
    return [text, text.replace("\n", "\r\n"), text + "\n\n", text + "# c", text + "# c\n", "---\n" + text,
            text + "...\n", text.rstrip("\n"), "\ufeff" + text]


def test_every_reference_stack_manifest_loads_identically():
    assert len(GOLDEN_MANIFESTS) > 50, "the golden reference stacks must be present"
    original = _checkov_loader()
    for path in GOLDEN_MANIFESTS:
        text = path.read_text()
        ours = list(yaml.load_all(text, Loader=checkov_yaml.CSafeLineLoader))
        assert ours == list(yaml.load_all(text, Loader=original)), path
        assert ours[0]["__startline__"] == 1 and ours[0]["__endline__"] > 1
        for variant in _variants(text):  # what checkov would now construct, on any text
            assert list(yaml.load_all(variant, Loader=checkov_yaml.line_loader)) == list(
                yaml.load_all(variant, Loader=original)), (path, variant[-30:])


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_load_identically(text):
    original = _checkov_loader()
    for variant in _variants(text):
        assert list(yaml.load_all(variant, Loader=checkov_yaml.line_loader)) == list(yaml.load_all(variant, Loader=original))


def test_libyaml_differs_only_without_a_final_line_break():
    """Why line_loader routes such text to checkov's loader: the end line differs there."""
    text = "key: value\nnested:\n    deep: 1\n    after: x"
    original = _checkov_loader()
    assert list(yaml.load_all(text, Loader=checkov_yaml.CSafeLineLoader)) != list(yaml.load_all(text, Loader=original))
    assert list(yaml.load_all(text + "\n", Loader=checkov_yaml.CSafeLineLoader)) == list(
        yaml.load_all(text + "\n", Loader=original))


def test_yaml_errors_stay_errors():
    with pytest.raises(yaml.YAMLError):
        list(yaml.load_all("a: [1, 2\n", Loader=checkov_yaml.line_loader))


def test_patch_is_pinned_to_the_locked_checkov():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert f"checkov=={checkov_yaml.PINNED_CHECKOV}" in [d.split(";")[0].strip() for d in pyproject["project"]["dependencies"]]
    assert metadata.version("checkov") == checkov_yaml.PINNED_CHECKOV


def test_checkov_scans_through_the_patched_loader(tmp_path: Path):
    """After install(), checkov's own parser uses the libyaml loader and keeps its line numbers."""
    from slm_deploy.gate import scan

    scan._prepare()
    assert checkov_yaml.installed() and k8_yaml.SafeLineLoader is checkov_yaml.line_loader
    src = next(p for p in GOLDEN_MANIFESTS if ".deployment." in p.name)
    template, lines = k8_yaml.load(src)
    assert template == list(yaml.load_all(src.read_text(), Loader=_checkov_loader()))
    assert lines[0] == (1, src.read_text().splitlines(keepends=True)[0])


def _checkov_results(files: list[Path]) -> list[tuple]:
    from checkov.kubernetes.runner import Runner
    from checkov.runner_filter import RunnerFilter

    report = Runner().run(root_folder=None, files=[str(f) for f in files],
                          runner_filter=RunnerFilter(framework=["kubernetes"], show_progress_bar=False))
    return sorted(
        (kind, r.check_id, r.resource, r.file_path, tuple(r.file_line_range), str(r.check_result["result"]))
        for kind, records in (("passed", report.passed_checks), ("failed", report.failed_checks),
                              ("skipped", report.skipped_checks))
        for r in records
    )


@pytest.mark.parametrize("stack", ["prod", "cpu"])
def test_checkov_reports_the_same_with_either_loader(stack, monkeypatch):
    """Whole checkov scans (resource and graph checks, line ranges) agree between the two loaders."""
    from slm_deploy.gate import scan

    scan._prepare()
    files = sorted((REPO / "tests" / "golden" / stack / "manifests").glob("*.yaml"))
    ours = _checkov_results(files)
    monkeypatch.setattr(k8_yaml, "SafeLineLoader", _checkov_loader())
    assert ours == _checkov_results(files)
    assert len(ours) > 100
