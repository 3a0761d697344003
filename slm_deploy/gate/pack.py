"""Assemble a self-contained CrossGuard policy pack directory (``slm-deploy policies --pack DIR``).

``policies/crossguard`` imports the rules from the repository (``policies.rules``, two directories
up), but ``pulumi policy publish`` uploads only the pack directory. The assembled pack holds the pack
files plus a vendored copy of the pure-Python rule packages (``policies.rules``, ``policies.compose``,
``policies.registry``), which ``slm_rules.py`` puts first on ``sys.path``: it runs without the
repository. checkov is not needed (the checkov adapters in ``policies/checks`` are not copied).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from slm_deploy.gate.result import project_root

__all__ = ["PACK_FILES", "VENDORED", "build_pack"]

PACK_FILES = ("PulumiPolicy.yaml", "__main__.py", "requirements.txt", "slm_rules.py", "README.md")
# What the pack imports from the repository's `policies` package (no checkov anywhere in these).
VENDORED = ("__init__.py", "registry.py", "rules", "compose")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def build_pack(out_dir: Path, policies_dir: Path | None = None) -> list[Path]:
    """Write the pack into ``out_dir`` (created; a previous pack's files are replaced). Returns the
    top-level entries written."""
    policies_dir = Path(policies_dir or project_root() / "policies")
    source = policies_dir / "crossguard"
    out_dir = Path(out_dir)
    if out_dir.resolve() in (source.resolve(), policies_dir.resolve(), project_root().resolve()):
        raise ValueError(f"--pack {out_dir}: choose a directory outside the policy sources")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--pack {out_dir}: exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PACK_FILES:
        shutil.copy2(source / name, out_dir / name)
        written.append(out_dir / name)
    vendored = out_dir / "policies"
    if vendored.exists():
        shutil.rmtree(vendored)
    vendored.mkdir()
    for name in VENDORED:
        src = policies_dir / name
        if src.is_dir():
            shutil.copytree(src, vendored / name, ignore=_IGNORE)
        else:
            shutil.copy2(src, vendored / name)
    written.append(vendored)
    return written
