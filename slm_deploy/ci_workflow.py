"""A GitHub Actions workflow per stack: .github/workflows/slm-deploy-<stack>.yml.

Pull requests run the README's set-up command and the offline preview with the gate, upload the SARIF
to code scanning and publish the JUnit report; pushes to main run ``pulumi up`` for the stack behind a
GitHub environment (required reviewers, secrets from the environment). Actions are pinned to full commit
SHAs (:data:`ACTIONS`; docs/ci.md says where each SHA was read). The template is
templates/ci/github-workflow.yml.j2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

__all__ = ["ACTIONS", "PinnedAction", "render_workflow", "workflow_path", "write_workflow"]

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates" / "ci"
PYTHON = "3.12"  # pyproject: requires-python >=3.11,<3.13


@dataclass(frozen=True)
class PinnedAction:
    repo: str  # owner/name[/path]
    sha: str  # full commit SHA of the tag
    tag: str

    def __str__(self) -> str:
        return f"{self.repo}@{self.sha} # {self.tag}"


# Each SHA is the commit its tag points at in the action's own repository (git rev-parse <tag>^{commit}).
ACTIONS = {
    "checkout": PinnedAction("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup_python": PinnedAction("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "upload_sarif": PinnedAction("github/codeql-action/upload-sarif", "8aad20d150bbac5944a9f9d289da16a4b0d87c1e",
                                 "v4.36.2"),
    "junit_report": PinnedAction("mikepenz/action-junit-report", "d9f48fc87bc235f7e214acf696ca5abc0a986f16", "v6.4.2"),
    "pulumi": PinnedAction("pulumi/actions", "8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
}


def workflow_path(project: Path, stack: str) -> Path:
    return project / ".github" / "workflows" / f"slm-deploy-{stack}.yml"


def render_workflow(stack: str, target: str) -> str:
    """The workflow text for ``stack`` (``target``: kubernetes or docker, from the stack file)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    return env.get_template("github-workflow.yml.j2").render(
        stack=stack, environment=f"slm-deploy-{stack}", kubernetes=target == "kubernetes", python=PYTHON,
        actions={k: str(v) for k, v in ACTIONS.items()})


def write_workflow(project: Path, stack: str, target: str, *, force: bool = False) -> Path:
    """Write the workflow; refuses to replace a different existing file unless ``force``."""
    path = workflow_path(project, stack)
    text = render_workflow(stack, target)
    if path.exists() and path.read_text() != text and not force:
        raise FileExistsError(f"{path.relative_to(project)} exists and differs; use --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
