"""The renderer's per-object YAML cache and in-place update of a previous build (slm_deploy/render_cache.py).

Correctness only (speed is measured in scripts/benchmark.py): a changed object is always dumped afresh, a
build updated in place is byte-for-byte the build a fresh render writes, and nothing outside the build moves.
"""

from __future__ import annotations

import copy
import enum
import os
from pathlib import Path

import pytest

from slm_deploy.render import BUILD_MARKER, OutDirError, manifest_filename, manifest_objects, render
from slm_deploy.render_cache import YamlCache
from slm_deploy.yaml_dump import dump_yaml


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("SLM_DEPLOY_CACHE_DIR", str(directory))
    monkeypatch.delenv("SLM_DEPLOY_NO_CACHE", raising=False)
    return directory


def _deployment(result) -> dict:
    return next(o for o in manifest_objects(result) if o["kind"] == "Deployment")


def test_changed_object_is_dumped_afresh_and_build_equals_a_fresh_render(synthesized, cache_dir, tmp_path):
    result = copy.deepcopy(synthesized("prod"))
    out = tmp_path / "out"
    render(result, out)
    first = _tree(out)
    deployment = _deployment(result)
    name = f"manifests/{manifest_filename(deployment)}"
    deployment["spec"]["replicas"] = 7  # one object changes
    untouched = {rel: (out / rel).stat().st_mtime_ns for rel in first if rel != name and rel.startswith("manifests/")}

    render(result, out)
    assert (out / name).read_text() == dump_yaml(deployment)
    assert "replicas: 7" in (out / name).read_text()
    assert {rel: (out / rel).stat().st_mtime_ns for rel in untouched} == untouched  # not rewritten

    with pytest.MonkeyPatch.context() as mp:  # the same synth, no cache, into an empty directory
        mp.setenv("SLM_DEPLOY_NO_CACHE", "1")
        render(result, tmp_path / "fresh")
    assert _tree(out) == _tree(tmp_path / "fresh")


def test_stale_files_and_reports_of_the_previous_build_are_removed(synthesized, cache_dir, tmp_path):
    result = copy.deepcopy(synthesized("prod"))
    out = tmp_path / "out"
    render(result, out)
    (out / "gate").mkdir()
    (out / "gate" / "report.md").write_text("old report")
    (out / ".slm-deploy-input").write_text("{}")
    (out / "files" / "gone").mkdir(parents=True)
    (out / "files" / "gone" / "x.yaml").write_text("x: 1")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (out / "manifests" / "link").symlink_to(outside, target_is_directory=True)
    dropped = next(r for r in result.resources if r.type == "kubernetes:policy/v1:PodDisruptionBudget")
    result.resources.remove(dropped)

    render(result, out)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLM_DEPLOY_NO_CACHE", "1")
        render(result, tmp_path / "fresh")
    assert _tree(out) == _tree(tmp_path / "fresh")
    assert not (out / "gate").exists() and not (out / "files" / "gone").exists()
    assert not (out / "manifests" / "link").exists()
    assert (outside / "keep.txt").read_text() == "keep"  # the link went, not what it pointed at
    assert (out / BUILD_MARKER).is_file()


def test_a_directory_that_is_not_a_build_is_refused_untouched(synthesized, cache_dir, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutDirError):
        render(synthesized("staging"), out)
    assert _tree(out) == {"notes.txt": b"mine"}


def test_cache_serves_only_the_exact_object(tmp_path):
    cache = YamlCache("s", tmp_path)
    obj = {"b": [1, 2.5, True, None], "a": {"x": "multi\nline"}}
    assert cache.dump(obj) == dump_yaml(obj)
    cache.save()

    again = YamlCache("s", tmp_path)
    assert again.dump(copy.deepcopy(obj)) == dump_yaml(obj) and again.hits == 1
    changed = copy.deepcopy(obj)
    changed["b"][2] = 1  # True -> 1: equal in Python, not in YAML
    assert again.dump(changed) == dump_yaml(changed) != dump_yaml(obj)
    assert again.hits == 1


class _Level(enum.IntEnum):
    ONE = 1


def test_objects_json_cannot_carry_are_never_cached(tmp_path):
    cache = YamlCache("s", tmp_path)
    assert cache.dump({1: "int key"}) == dump_yaml({1: "int key"})
    assert cache.dump({"t": ("a", "b")}) == dump_yaml({"t": ("a", "b")})
    with pytest.raises(Exception):  # a subclass YAML's safe representers refuse stays refused, not served from JSON
        cache.dump({"level": _Level.ONE})
    cache.save()
    assert YamlCache("s", tmp_path)._old == {}


def test_a_different_fingerprint_drops_the_cache(tmp_path, monkeypatch):
    cache = YamlCache("s", tmp_path)
    cache.dump({"a": 1})
    cache.save()
    monkeypatch.setattr("slm_deploy.render_cache.fingerprint", lambda: "other")
    assert YamlCache("s", tmp_path)._old == {}


def test_no_cache_env_writes_no_cache(synthesized, cache_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SLM_DEPLOY_NO_CACHE", "1")
    render(synthesized("staging"), tmp_path / "out")
    assert not (cache_dir / "render").exists()
    assert os.listdir(tmp_path / "out")
