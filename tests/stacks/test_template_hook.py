"""The cookiecutter template's hook has no rules of its own: an answer the stack loader refuses, the hook
refuses with the loader's words; an answer the loader accepts, the hook accepts (the real hook, through
cookiecutter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_deploy.commands.new_stack import BakeError, bake
from stacks.errors import ConfigError
from stacks.loader import load_stack
from tests.conftest import write_stack

# answer -> (how a stack file carries it, as the template writes it, and the loader's key for it)
CARRIERS = {
    "namespace": ("config:\n  slm-deploy:namespace: \"{}\"\n", "slm-deploy:namespace"),
    "docker_host": ("config:\n  slm-deploy:target: docker\n  slm-deploy:docker:\n    host: \"{}\"\n", "slm-deploy:docker.host"),
    "host_memory_gb": ("config:\n  slm-deploy:target: docker\n  slm-deploy:docker:\n    memoryGb: {}\n",
                       "slm-deploy:docker.memoryGb"),
}
CASES = [
    # yes and 123 are DNS labels; written quoted, they stay text (unquoted YAML would read a bool and a number)
    ("namespace", ["team-a", "slm", "a" * 63, "yes", "123"], ["Team_A", "a" * 64, "-x", "a.b"]),
    ("docker_host", ["unix:///var/run/docker.sock", "ssh://slm@box", "tcp://10.0.0.2:2376"],
     ["docker-box", "http://box", "tcp://box:99999", "ssh://me:pw@box", "unix://run/docker.sock"]),
    ("host_memory_gb", ["16", "0.5", "64"], ["0", "-4", "lots", "16GB"]),
]
PAIRS = [(key, answer, good) for key, goods, bads in CASES for good, answers in ((True, goods), (False, bads))
         for answer in answers]


def _loader_says(root: Path, key: str, answer: str) -> str | None:
    text, loader_key = CARRIERS[key]
    write_stack(root, "probe", text.format(answer))
    try:
        load_stack("probe", root, offline=True)
    except ConfigError as exc:
        mine = [p.message for p in exc.problems if p.key == loader_key]
        return mine[0] if mine else None
    return None


def _hook_says(root: Path, key: str, answer: str) -> str | None:
    try:
        kind = "ollama-kubernetes" if key == "namespace" else "ollama-docker"
        bake({"stack_name": "hooked", "kind": kind, "model": "qwen3-0.6b", key: answer}, root)
    except BakeError as exc:
        prefix = f"the template refused the answers: {key} = {answer!r}: "
        assert str(exc).startswith(prefix), exc
        return str(exc)[len(prefix):]
    return None


@pytest.mark.parametrize("key, answer, good", PAIRS, ids=[f"{k}={a[:12]}" for k, a, _ in PAIRS])
def test_the_hook_says_what_the_loader_says(tmp_path: Path, key: str, answer: str, good: bool):
    loader_root, hook_root = tmp_path / "loader", tmp_path / "hook"
    for root in (loader_root, hook_root):
        (root / "stacks").mkdir(parents=True)
        (root / "Pulumi.yaml").write_text((Path(__file__).resolve().parents[2] / "Pulumi.yaml").read_text())
    loader = _loader_says(loader_root, key, answer)
    assert (loader is None) == good, loader
    assert _hook_says(hook_root, key, answer) == loader
    if not good:
        assert list((hook_root / "stacks").iterdir()) == [], "a refused answer writes nothing"


def test_the_stack_name_is_a_dns_label_in_the_loaders_words(scratch_project: Path):
    from components.validation import DnsLabel, value_problem

    with pytest.raises(BakeError) as info:
        bake({"stack_name": "Team_A"}, scratch_project)
    # (the namespace defaults to slm-<stack_name>, so it is refused too, after it)
    assert str(info.value).startswith(f"the template refused the answers: stack_name = 'Team_A': "
                                      f"{value_problem(DnsLabel, 'Team_A')}; namespace = 'slm-Team_A': ")


def test_the_hook_keeps_no_rules_of_its_own():
    hook = (Path(__file__).resolve().parents[2] / "templates" / "stack" / "hooks" / "pre_gen_project.py").read_text()
    assert "import re" not in hook and "re.compile" not in hook and "from components.validation import" in hook
