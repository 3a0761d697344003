"""The cookiecutter template: every kind bakes into a stack that is valid and passes its own gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_deploy.commands.new_stack import BakeError, bake
from stacks.loader import load_stack
from slm_deploy.pipeline import build_stack

BAKES = {
    "vllm-gpu": {"kind": "vllm-gpu", "model": "qwen3-4b", "gpu": "l4", "monitoring": "standalone"},
    "vllm-operator": {"kind": "vllm-gpu", "model": "phi-4-mini-instruct", "gpu": "a10g", "monitoring": "operator"},
    "ollama-docker": {"kind": "ollama-docker", "model": "qwen3-0.6b", "host_memory_gb": "8"},
    "ollama-k8s": {"kind": "ollama-kubernetes", "model": "qwen3-1.7b", "monitoring": "none"},
    "onnx-edge": {"kind": "onnx-edge", "model": "phi-4-mini-instruct", "host_memory_gb": "8", "docker_host": "ssh://slm@box"},
}


@pytest.mark.parametrize("bake_id", sorted(BAKES))
def test_every_bake_passes_its_own_gate(scratch_project: Path, bake_id: str):
    answers = {"stack_name": f"t-{bake_id}", **BAKES[bake_id]}
    path = bake(answers, scratch_project)
    assert path == scratch_project / "stacks" / f"Pulumi.t-{bake_id}.yaml"
    loaded = load_stack(f"t-{bake_id}", scratch_project)
    build = build_stack(loaded, scratch_project / "build")
    assert build.gate.ok, [(f.check_id, f.resource, f.message) for f in build.gate.failed]
    assert build.summary["resources"] > 1


def test_hook_rejects_a_bad_stack_name_and_writes_nothing(scratch_project: Path):
    with pytest.raises(BakeError, match=r"stack_name = 'Bad_Name': must be a DNS-1123 label"):
        bake({"stack_name": "Bad_Name"}, scratch_project)
    assert list((scratch_project / "stacks").iterdir()) == []


def test_existing_stack_is_never_overwritten(scratch_project: Path):
    bake({"stack_name": "twice", "kind": "ollama-docker", "model": "qwen3-0.6b"}, scratch_project)
    before = (scratch_project / "stacks" / "Pulumi.twice.yaml").read_text()
    with pytest.raises(BakeError, match="exists already"):
        bake({"stack_name": "twice", "kind": "vllm-gpu"}, scratch_project)
    assert (scratch_project / "stacks" / "Pulumi.twice.yaml").read_text() == before


def test_unknown_question_and_bad_choice_are_refused_before_baking(scratch_project: Path):
    with pytest.raises(BakeError, match=r"--set stack_nam: unknown question; did you mean 'stack_name'\?"):
        bake({"stack_nam": "x"}, scratch_project)
    with pytest.raises(BakeError, match=r"--set kind=vllmgpu: allowed: vllm-gpu, ollama-docker"):
        bake({"kind": "vllmgpu"}, scratch_project)
    assert list((scratch_project / "stacks").iterdir()) == []


def test_ollama_docker_bake_with_an_approver_carries_an_approved_opt_out(scratch_project: Path):
    """Without an approver the bake runs non-root (dockerUser); with one, the opt-out carries who and until when."""
    from datetime import date

    path = bake({"stack_name": "t-root", "kind": "ollama-docker", "model": "qwen3-0.6b", "host_memory_gb": "8",
                 "opt_out_approver": "sec@example.com"}, scratch_project)
    text = path.read_text()
    assert "approver: sec@example.com" in text and "dockerUser: \"" not in text
    [opt] = load_stack("t-root", scratch_project).config.ollama.opt_outs
    assert opt.approver == "sec@example.com" and 0 < (opt.expires - date.today()).days <= 90
    build = build_stack(load_stack("t-root", scratch_project), scratch_project / "build")
    assert build.gate.ok, [(f.check_id, f.resource, f.message) for f in build.gate.failed]
    plain = bake({"stack_name": "t-plain", "kind": "ollama-docker", "model": "qwen3-0.6b"}, scratch_project).read_text()
    assert 'dockerUser: "10001:10001"' in plain and "optOuts" not in plain
