"""CKV_SLM_003: model sources (vLLM --model, hf download, snapshot_download) are pinned to a commit sha."""
from __future__ import annotations

import re

from policies.rules._argv import FULL_SHA, flag_value, segments, tokens
from policies.rules._identify import runs_vllm_engine
from policies.rules._k8s import WORKLOAD_KINDS, container_argv, judge_containers
from policies.rules._types import CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_003",
    name="Ensure model sources are pinned to a 40-hex commit revision, not a branch",
    severity="MEDIUM",
    rationale=(
        "A Hugging Face repo id without --revision (or with main/master/a branch) loads whatever was pushed "
        "last: weights, tokenizer and, with trust-remote-code, Python code. Pinning the commit sha makes the "
        "deployment reproducible and stops an upstream push from changing what runs."
    ),
    reference="https://huggingface.co/docs/huggingface_hub/guides/download#from-specific-version",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)

_DOWNLOADERS = (("hf", "download"), ("huggingface-cli", "download"))
_PY_DOWNLOAD = re.compile(r"(snapshot_download|hf_hub_download)\s*\((?P<args>[^)]*)\)", re.S)
_PY_REVISION = re.compile(r"revision\s*=\s*[\"'](?P<rev>[^\"']*)[\"']")


def _is_local(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~"))


def _pinned(rev: str | None) -> bool:
    return bool(rev) and bool(FULL_SHA.match(rev))


def _vllm_problems(toks: list[str]) -> list[str]:
    model = flag_value(toks, "--model")
    if model is None and "serve" in toks:
        after = toks[toks.index("serve") + 1:]
        model = after[0] if after and not after[0].startswith("-") else None
    if model is None:
        return ["vLLM runs without --model (falls back to a floating default)"]
    if _is_local(model):
        return []  # weights on a local path: the download step is judged instead
    rev = flag_value(toks, "--revision")
    return [] if _pinned(rev) else [f"vLLM model {model!r} uses revision {rev!r}, not a 40-hex commit sha"]


def _download_problems(seg: list[str]) -> list[str] | None:
    for i in range(len(seg) - 1):
        if (seg[i].rsplit("/", 1)[-1], seg[i + 1]) in _DOWNLOADERS:
            args = [t for t in seg[i + 2:] if not t.startswith("-")]
            rev = flag_value(seg, "--revision")
            repo = args[0] if args else "?"
            return [] if _pinned(rev) else [f"{seg[i]} download {repo!r} uses revision {rev!r}, not a commit sha"]
    return None


def argv_problems(image: object, argv: list[str]) -> tuple[bool, list[str]]:
    """(applicable, problems) for one container/service command line."""
    toks = tokens(argv)
    applicable, problems = False, []
    if runs_vllm_engine(image, argv):
        applicable = True
        problems += _vllm_problems(toks)
    for seg in segments(toks):
        found = _download_problems(seg)
        if found is not None:
            applicable = True
            problems += found
    for call in _PY_DOWNLOAD.finditer(" ".join(argv)):
        applicable = True
        rev = _PY_REVISION.search(call.group("args"))
        if not _pinned(rev.group("rev") if rev else None):
            problems.append(f"{call.group(1)}(...) without a commit-sha revision")
    return applicable, problems


def _container_problems(c: dict, _spec: dict) -> list[str] | None:
    applies, problems = argv_problems(c.get("image"), container_argv(c))
    return problems if applies or problems else None


def evaluate(obj: dict) -> Result:
    return judge_containers(obj, _container_problems)
