"""The gate reads a build once (slm_deploy/gate/build_files.py) and every step that read the directory itself before
gives what it gave then: the verdict cache key, the Dockerfiles found, the per-object lookup's bytes, the
inline-suppression scan and the rule-file search, on the reference builds and on odd trees (CRLF and lone CR line
breaks, a file that is not UTF-8, symlinked files and directories, a top-level file named ``gate``, the warm input
marker, dotfiles, ``checkov`` only in a file's bytes of another shape)."""
from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from gate_helpers import PLAIN_DEPLOYMENT, REPO, copy_build, write_build
from slm_deploy.gate import alert_rules, cache, scan
from slm_deploy.gate.build_files import BuildFiles
from slm_deploy.gate.incremental import lookup
from slm_deploy.gate.object_cache import ObjectStore

RULES = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n"


def _odd_build(root: Path) -> Path:
    write_build(root, [PLAIN_DEPLOYMENT], compose="services:\n  web:\n    image: x  # checkov:skip=CKV_X_1\n",
                files={"r/rules.yaml": RULES, "r/crlf.yml": RULES.replace("\n", "\r\n"), "r/.yaml": RULES,
                       "r/notes.txt": "a\rb checkov:skip=CKV_Y_2\r\n", "Dockerfile": "FROM x\n# checkov:skip=CKV_D_1\n",
                       "app/api.Dockerfile": "FROM y\n"})
    (root / "manifests" / "demo.configmap.skip.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: skip\n  namespace: demo\n  annotations:\n"
        "    checkov.io/skip1: CKV_K8S_21=reason\r\n")
    (root / "files" / "latin1.txt").write_bytes("groups: [] # caf\xe9 checkov\n".encode("latin-1"))
    (root / "files" / "binary.bin").write_bytes(b"\x00\xffcheckov\x00")
    (root / "gate").write_text("a top-level file named gate: skipped as the reports directory is\n")
    (root / ".slm-deploy-input").write_text("marker checkov:skip=CKV_M_1\n")
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir()
    (outside / "linked.yaml").write_text(RULES + "# checkov:skip=CKV_L_1\n")
    os.symlink(outside / "linked.yaml", root / "files" / "r" / "link.yaml")
    os.symlink(outside, root / "files" / "linked-dir")
    return root


def _builds(tmp_path: Path, built) -> list[Path]:
    return [_odd_build(tmp_path / "odd"), copy_build(built("prod").out_dir, tmp_path / "prod"),
            copy_build(built("edge").out_dir, tmp_path / "edge")]


def test_one_read_matches_the_walks_it_replaces(tmp_path, built):
    for root in _builds(tmp_path, built):
        build = BuildFiles.read(root)
        assert [rel for rel, _ in cache._files(root, ("gate",))] == list(build.data)
        for rel, path in cache._files(root, ("gate",)):
            assert build.data[rel] == Path(path).read_bytes()
            assert build.digests[rel] == cache._digest_file(path)
        key = cache.cache_key(root, "s", REPO / "policies", REPO / "policies" / "waivers.yaml", date(2030, 1, 2))
        assert cache.cache_key(root, "s", REPO / "policies", REPO / "policies" / "waivers.yaml", date(2030, 1, 2),
                               build) == key
        assert scan.find_dockerfiles(root, build) == scan.find_dockerfiles(root)
        assert scan.scan_inline_suppressions(root, build=build) == scan.scan_inline_suppressions(root)
        assert alert_rules.rule_files(root, {}, None, build) == alert_rules.rule_files(root, {})


def test_the_odd_tree_is_judged_as_before(tmp_path):
    root = _odd_build(tmp_path / "odd")
    build = BuildFiles.read(root)
    hits = {(h.check_id, h.file) for h in scan.scan_inline_suppressions(root, build=build)}
    assert hits == {("CKV_X_1", "compose.yaml"), ("CKV_Y_2", "files/r/notes.txt"), ("CKV_D_1", "files/Dockerfile"),
                    ("CKV_K8S_21", "manifests/demo.configmap.skip.yaml"), ("CKV_M_1", ".slm-deploy-input"),
                    ("CKV_L_1", "files/r/link.yaml")}
    assert [rel for rel, _ in alert_rules.rule_files(root, {}, None, build)] == [
        "files/r/crlf.yml", "files/r/link.yaml", "files/r/rules.yaml"]
    # the marker is in the snapshot but never in the verdict's key (slm_deploy.warm rewrites it)
    before = cache.cache_key(root, "s", REPO / "policies", REPO / "policies" / "waivers.yaml", date(2030, 1, 2), build)
    (root / ".slm-deploy-input").write_text("another marker\n")
    assert cache.cache_key(root, "s", REPO / "policies", REPO / "policies" / "waivers.yaml", date(2030, 1, 2),
                           BuildFiles.read(root)) == before


def test_a_rule_candidate_that_is_not_text_fails_as_before(tmp_path):
    root = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT], files={"ok.yaml": RULES})
    (root / "files" / "latin1.yaml").write_bytes("groups: [] # caf\xe9\n".encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        alert_rules.rule_files(root, {})
    with pytest.raises(UnicodeDecodeError):
        alert_rules.rule_files(root, {}, None, BuildFiles.read(root))


def test_a_symlinked_files_directory_is_searched_as_before(tmp_path):
    root = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    shutil.rmtree(root / "files", ignore_errors=True)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "rules.yaml").write_text(RULES)
    os.symlink(tmp_path / "real", root / "files")
    build = BuildFiles.read(root)
    assert alert_rules.rule_files(root, {}, None, build) == alert_rules.rule_files(root, {}) == [
        ("files/rules.yaml", RULES)]


def test_lookup_reads_from_the_snapshot_and_a_key_refuses_another_directory(tmp_path):
    root = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    build = BuildFiles.read(root)
    manifests = sorted((root / "manifests").glob("*.yaml"))
    store = ObjectStore("s", "fp", None)
    assert lookup(store, root, manifests, [], build).data == lookup(store, root, manifests, []).data
    other = write_build(tmp_path / "other", [PLAIN_DEPLOYMENT])
    with pytest.raises(ValueError):
        cache.cache_key(other, "s", REPO / "policies", REPO / "policies" / "waivers.yaml", date(2030, 1, 2), build)


@pytest.mark.parametrize("build_dir", ["/tmp/b", "b", "./b", "a/../b", "/", ".", "b/c", "/tmp/b.d", "//x/b"])
def test_relative_paths_as_relative_to_gives_them(build_dir):
    from slm_deploy.gate.incremental import _relative

    root = Path(build_dir)
    for path in (root / "manifests" / "a.yaml", root / "files" / "x" / "Dockerfile", root / "compose.yaml",
                 root / "manifests" / ".." / "z.yaml"):
        assert _relative(path, root) == path.relative_to(root).as_posix()
