"""Helpers for the gate tests (tests/gate has no __init__.py, like tests/policies)."""
from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"

PLAIN_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "plain", "namespace": "demo"},
    "spec": {
        "selector": {"matchLabels": {"app": "plain"}},
        "template": {
            "metadata": {"labels": {"app": "plain"}},
            "spec": {"containers": [{"name": "plain", "image": "nginx:1.27"}]},
        },
    },
}


def write_build(root: Path, manifests: list[dict] | None = None, *, compose: str | None = None,
                files: dict[str, str] | None = None, opt_outs: list[dict] | None = None) -> Path:
    """A minimal rendered build dir, shaped like slm_deploy.render's output."""
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    for obj in manifests or []:
        meta = obj["metadata"]
        name = f"{meta.get('namespace', '_cluster')}.{obj['kind'].lower()}.{meta['name']}.yaml"
        (root / "manifests" / name).write_text(yaml.safe_dump(obj, sort_keys=True))
    if compose is not None:
        (root / "compose.yaml").write_text(compose)
    for rel, content in (files or {}).items():
        path = root / "files" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "resources.json").write_text("[]\n")
    (root / "opt-outs.json").write_text(json.dumps(opt_outs or []) + "\n")
    return root


def copy_build(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("gate"))
    return dst


def write_waivers(path: Path, waivers: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"waivers": waivers}, sort_keys=False))
    return path


IN_30_DAYS = (date.today() + timedelta(days=30)).isoformat()
TEST_STACKS = ("t", "staging", "demo")


def waiver(check: str, resource, *, stacks=TEST_STACKS, expires=IN_30_DAYS, **extra) -> dict:
    entry = {"check": check, "resource": resource, "stacks": list(stacks),
             "reason": "accepted for the test: reviewed and documented", "approver": "reviewer@example.com",
             "expires": expires}
    entry.update(extra)
    return entry


def ids(findings) -> set[str]:
    return {f.check_id for f in findings}
