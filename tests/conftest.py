"""Shared fixtures: the reference stacks synthesized once per session; a scratch project root for config-error tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from stacks.loader import project_root

if TYPE_CHECKING:
    from slm_deploy.pipeline import Build
    from slm_deploy.synth import SynthResult

REPO = project_root()


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis keeps its example database and caches in ``.hypothesis/`` under the working directory, which is
    the checkout: point it at a directory of this run instead (removed at the end), so the suite writes nothing
    there. Its storage directory is read lazily, so setting it before the first test is in time."""
    from hypothesis.configuration import set_hypothesis_home_dir

    config._slm_hypothesis_home = tempfile.mkdtemp(prefix="slm-hypothesis-")  # type: ignore[attr-defined]
    set_hypothesis_home_dir(config._slm_hypothesis_home)  # type: ignore[attr-defined]
    _load_hypothesis_profile()


def _load_hypothesis_profile() -> None:
    """``SLM_HYPOTHESIS_PROFILE=ci`` (set by .ci/run): every property test draws the same examples on every run
    (``derandomize``), so CI judges the code, not the luck of a draw; a failure there reproduces anywhere. Without
    it (``./dev test`` at a desk) the draws are random and explore further: what they find becomes a pinned case."""
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    profile = os.environ.get("SLM_HYPOTHESIS_PROFILE")
    if profile:
        settings.load_profile(profile)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(getattr(config, "_slm_hypothesis_home", ""), ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _gate_cache_outside_the_checkout(tmp_path_factory):
    """Gate verdicts (and the program gate's) go under a session tmp dir, never into the checkout; subprocesses
    (the CLI) inherit it. A test that needs its own cache sets SLM_DEPLOY_CACHE_DIR itself. (Components write
    nothing at synth time: the edge image builds from the rendered files/<name>/.)"""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLM_DEPLOY_CACHE_DIR", str(tmp_path_factory.mktemp("slm-deploy-cache")))
        yield


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Callable[[str], "Build"]:
    """``built(stack)``: the reference stack synthesized, rendered and gated (reviewed waivers, no verdict
    cache) once per session, in a session tmp dir. Tests read the build and must not change it."""
    from slm_deploy.pipeline import build_stack
    from stacks.loader import load_stack

    cache: dict[str, object] = {}

    def get(stack: str):
        if stack not in cache:
            with pytest.MonkeyPatch.context() as mp:
                mp.delenv("SLM_DEPLOY_WAIVERS", raising=False)
                mp.setenv("SLM_DEPLOY_NO_CACHE", "1")
                cache[stack] = build_stack(load_stack(stack, REPO), tmp_path_factory.mktemp(f"built-{stack}") / stack)
        return cache[stack]

    return get


@pytest.fixture(scope="session")
def synthesized() -> Callable[[str], "SynthResult"]:
    """``synthesized(stack)``: the reference stack through the real program under the mock runtime, once per
    session (the synth is the slow step; tests read the result and must not change it)."""
    from slm_deploy.pipeline import synth_stack
    from stacks.loader import load_stack

    cache: dict[str, object] = {}

    def get(stack: str):
        if stack not in cache:
            cache[stack] = synth_stack(load_stack(stack))
        return cache[stack]

    return get


@pytest.fixture
def scratch_project(tmp_path: Path) -> Path:
    """A copy of Pulumi.yaml plus an empty stacks/ dir; write stack files into it."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    return tmp_path


def write_stack(root: Path, name: str, text: str) -> Path:
    path = root / "stacks" / f"Pulumi.{name}.yaml"
    path.write_text(text)
    return path


def stack_problems(root: Path, text: str) -> list[str]:
    """The located problem lines loading ``text`` as stack ``t`` of the project ``root`` reports (it must fail with
    a ConfigError)."""
    from stacks.errors import ConfigError
    from stacks.loader import load_stack

    write_stack(root, "t", text)
    with pytest.raises(ConfigError) as info:
        load_stack("t", root)
    return [str(p) for p in info.value.problems]
