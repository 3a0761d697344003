"""Shared paths and loaders for the SLM policy tests (tests/policies has no __init__.py on purpose:
as a package it would be importable as `policies` and shadow the real policies package)."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKS_DIR = REPO / "policies" / "checks"
K8S_CHECK_IDS = [f"CKV_SLM_00{i}" for i in range(1, 8)] + [f"CKV_SLM_0{i}" for i in range(21, 28)] + ["CKV_SLM_032", "CKV_SLM_033", "CKV_SLM_035"]


def fixture_files(check_id: str, outcome: str, framework: str | None = None) -> list[Path]:
    """A check's fixtures; with ``framework``, only that framework's where a check has both (a Kubernetes rule
    and its Docker twin under one id): ``compose*.yaml`` are compose files, the others Kubernetes manifests."""
    files = sorted((FIXTURES / check_id / outcome).glob("*.yaml"))
    if framework == "compose" and check_id in K8S_CHECK_IDS:
        return [p for p in files if p.name.startswith("compose")]
    if framework == "kubernetes" and check_id in COMPOSE_CHECK_IDS:
        return [p for p in files if not p.name.startswith("compose")]
    return files


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]

MANIFEST_SET_CHECK_IDS = ["CKV_SLM_008", "CKV_SLM_009", "CKV_SLM_030", "CKV_SLM_031", "CKV_SLM_034"]
COMPOSE_CHECK_IDS = [f"CKV_SLM_0{i}" for i in range(10, 21)] + ["CKV_SLM_028", "CKV_SLM_029", "CKV_SLM_032", "CKV_SLM_036"]
"""CKV_SLM_032 is in both lists: the Kubernetes rule and its Docker twin (one id, policies/CATALOG.md)."""
