"""The ``vllm serve`` flag list of the pinned vLLM version, and the extra-args validator.

The flag list is data generated from the released vLLM wheel of the pinned image version
(``flags.json`` beside this module, written by ``scripts/vllm_flags_from_wheel.py``, which
reads ``vllm/engine/arg_utils.py`` and ``vllm/entrypoints/openai/cli_args.py`` as source). The file
records the wheel's version and sha256 and, for every flag, the file and line that defines it.
``tests/test_vllm_flags.py`` fails when the ``vllm-openai`` tag in ``components/versions.yaml`` and the
list's version differ: bump both together (``pip download vllm==<version> --no-deps``, then the script).

The value kinds below are curated from the same argparse definitions; a test fails when a curated
name is not a flag of the generated list, so a bump cannot leave a stale entry behind.

Boolean flags are argparse ``BooleanOptionalAction``s, so ``--no-<flag>`` is accepted
for every flag here; JSON config flags accept dotted sub-keys
(``--compilation-config.level 3``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["VLLM_VERSION", "VLLM_FLAGS", "FLAG_SOURCES", "FLAGS_FILE", "FLAG_KINDS", "SHORT_ALIASES",
           "COMPONENT_OWNED", "validate_extra_args"]

FLAGS_FILE = Path(__file__).with_name("flags.json")
_DATA = json.loads(FLAGS_FILE.read_text())

VLLM_VERSION = f"v{_DATA['version']}"

FLAG_SOURCES: dict[str, str] = dict(_DATA["flags"])
"""``--flag`` -> ``<file>:<line>`` in the wheel where vLLM defines it (upstream evidence)."""

VLLM_FLAGS: frozenset[str] = frozenset(FLAG_SOURCES)
"""Every long flag ``vllm serve`` accepts in :data:`VLLM_VERSION`."""

SHORT_ALIASES: dict[str, str] = dict(_DATA["short_aliases"])

COMPONENT_OWNED: dict[str, str] = {
    "--model": "the `model` Arg (a catalog id), with `hfRepo` for a checkpoint override",
    "--revision": "the `revision` Arg (the catalog pins it; a 40-hex sha with `hfRepo`)",
    "--code-revision": "the `revision` Arg (code is loaded from the same pinned commit)",
    "--tokenizer-revision": "the `revision` Arg (the tokenizer comes from the pinned commit)",
    "--served-model-name": "the `servedModelName` Arg",
    "--host": "nothing: vLLM binds 127.0.0.1 and is reached only through the auth proxy",
    "--port": "nothing: vLLM listens on 127.0.0.1:8000 behind the auth proxy",
    "--uds": "nothing: vLLM listens on 127.0.0.1:8000 behind the auth proxy",
    "--api-key": "the stack's `apiKey` secret (the auth proxy enforces it on every route)",
    "--hf-token": "the stack's `hfToken` secret (mounted as a file into the download step)",
    "--download-dir": "nothing: the model cache is mounted and managed by the component",
    "--max-model-len": "the `maxModelLen` Arg (checked for fit by the sizing model)",
    "--max-num-seqs": "the `concurrency` Arg (the sizing model derives --max-num-seqs)",
    "--gpu-memory-utilization": "the `gpuMemoryUtilization` Arg",
    "--tensor-parallel-size": "the `tensorParallelSize` Arg",
    "--pipeline-parallel-size": "the `gpuCount` and `tensorParallelSize` Args",
    "--quantization": "the `quantization` Arg",
    "--kv-cache-dtype": "the `kvCacheDtype` Arg",
    "--dtype": "the `dtype` Arg",
    "--enable-lora": "the `loraAdapters` Arg",
    "--lora-modules": "the `loraAdapters` Arg",
    "--max-loras": "the `loraAdapters` Arg",
    "--max-lora-rank": "the `maxLoraRank` Arg",
    "--enable-auto-tool-choice": "the `toolCalling` Arg",
    "--tool-call-parser": "the `toolCalling` Arg (the parser comes from the model's catalog entry)",
    "--config": "the component's Args (a config file would bypass validation)",
    "--headless": "nothing: multi-node serving is not supported",
    "--ssl-keyfile": "nothing: TLS terminates outside the pod; vLLM listens on localhost",
    "--ssl-certfile": "nothing: TLS terminates outside the pod; vLLM listens on localhost",
}
"""Flags the component sets (or forbids) itself, and the Arg to use instead."""


# --------------------------------------------------------------------------- value kinds
# How many values each flag takes, and their type where it is simple. Source: the argparse
# definitions of vLLM v0.11 (EngineArgs.add_cli_args: bool fields become BooleanOptionalAction
# switches, list fields nargs="+", Literal fields choices; FrontendArgs the same way).
# Every flag not listed below takes exactly one value of free form (a string, a path, JSON).

_SWITCHES = """
trust-remote-code enforce-eager disable-sliding-window disable-cascade-attn skip-tokenizer-init
enable-prompt-embeds enable-sleep-mode use-tqdm-on-load guided-decoding-disable-fallback
guided-decoding-disable-any-whitespace guided-decoding-disable-additional-properties
data-parallel-hybrid-lb enable-expert-parallel enable-dbo enable-eplb
eplb-log-balancedness ray-workers-use-nsight disable-custom-all-reduce enable-multimodal-encoder-data-parallel
enable-prefix-caching calculate-kv-scales kv-sharing-fast-prefill disable-mm-preprocessor-cache
interleave-mm-strings skip-mm-profiling enable-lora enable-lora-bias fully-sharded-loras enable-chunked-prefill
disable-chunked-mm-input disable-hybrid-kv-cache-manager async-scheduling disable-log-stats
enable-log-requests disable-log-requests
headless disable-uvicorn-access-log allow-credentials enable-ssl-refresh return-tokens-as-token-ids
disable-frontend-multiprocessing enable-request-id-headers enable-auto-tool-choice
exclude-tools-when-tool-choice-none disable-fastapi-docs enable-prompt-tokens-details
enable-server-load-tracking enable-force-include-usage enable-tokenizer-info-endpoint enable-log-outputs
log-error-stack trust-request-chat-template
"""

_INTS = """
seed max-logprobs pipeline-parallel-size tensor-parallel-size decode-context-parallel-size data-parallel-size
data-parallel-rank data-parallel-start-rank data-parallel-size-local data-parallel-rpc-port
dbo-decode-token-threshold dbo-prefill-token-threshold num-redundant-experts eplb-window-size
eplb-step-interval max-parallel-loading-workers num-gpu-blocks-override mm-shm-cache-max-object-size-mb
max-loras lora-extra-vocab-size max-cpu-loras max-num-seqs max-num-partial-prefills
max-long-partial-prefills long-prefill-token-threshold num-lookahead-slots port api-server-count
h11-max-incomplete-event-size h11-max-header-count max-log-len ssl-cert-reqs
"""

# Ints that vLLM parses with ``human_readable_int`` (1k = 1000, 1K = 1024, 25.6k ...).
_SIZES = "max-model-len max-num-batched-tokens kv-cache-memory-bytes"

_FLOATS = "gpu-memory-utilization swap-space cpu-offload-gb rope-theta mm-processor-cache-gb video-pruning-rate"

_CHOICES: dict[str, tuple[str, ...]] = {
    "tokenizer-mode": ("auto", "slow", "mistral", "custom"),
    "dtype": ("auto", "half", "float16", "bfloat16", "float", "float32"),
    "runner": ("auto", "generate", "pooling", "draft"),
    "convert": ("auto", "none", "embed", "classify", "reward"),
    "config-format": ("auto", "hf", "mistral"),
    "logprobs-mode": ("raw_logprobs", "raw_logits", "processed_logprobs", "processed_logits"),
    "scheduling-policy": ("fcfs", "priority"),
    "distributed-executor-backend": ("ray", "mp", "uni", "external_launcher"),
    "block-size": ("1", "8", "16", "32", "64", "128"),
    "max-lora-rank": ("1", "8", "16", "32", "64", "128", "256", "320", "512"),
    "lora-dtype": ("auto", "float16", "bfloat16"),
    "uvicorn-log-level": ("debug", "info", "warning", "error", "critical", "trace"),
    "chat-template-content-format": ("auto", "string", "openai"),
    "mm-encoder-tp-mode": ("weights", "data"),
    "mm-processor-cache-type": ("lru", "shm"),
    "expert-placement-strategy": ("linear", "round_robin"),
}

# nargs="+": one or more values up to the next flag.
_MULTI = """
served-model-name lora-modules allowed-media-domains logits-processors cuda-graph-sizes
collect-detailed-traces ignore-patterns
"""
_MULTI_INT = {"cuda-graph-sizes"}

FLAG_KINDS: dict[str, str] = {}
"""``--flag`` -> ``switch`` | ``int`` | ``size`` | ``float`` | ``choice`` | ``multi`` | ``value``."""
for _kind, _names in (("switch", _SWITCHES), ("int", _INTS), ("size", _SIZES), ("float", _FLOATS),
                      ("choice", " ".join(_CHOICES)), ("multi", _MULTI)):
    for _name in _names.split():
        FLAG_KINDS[f"--{_name}"] = _kind
_STALE = sorted(set(FLAG_KINDS) - VLLM_FLAGS)
if _STALE:  # a curated kind for a flag the pinned version does not have: fix the lists above
    raise ImportError(f"components/vllm/flags.py: not flags of vLLM {VLLM_VERSION}: {', '.join(_STALE)}")
for _flag in VLLM_FLAGS:
    FLAG_KINDS.setdefault(_flag, "value")
_SIZE = re.compile(r"^\d+(\.\d+)?[kKmMgGtT]?$")


def _canonical(token: str) -> str:
    """``--flag=value`` / ``--flag.key`` / ``-tp`` / ``--no-flag`` -> the canonical long flag."""
    flag = token.split("=", 1)[0]
    if flag in SHORT_ALIASES:
        return SHORT_ALIASES[flag]
    if flag.startswith("--"):
        flag = flag.split(".", 1)[0]
        if flag.startswith("--no-") and flag not in VLLM_FLAGS and f"--{flag[5:]}" in VLLM_FLAGS:
            return f"--{flag[5:]}"
    return flag


def _is_flag(token: str) -> bool:
    return token.startswith("-") and not _is_number(token)


def _describe(flag: str) -> str:
    kind = FLAG_KINDS[flag]
    name = flag[2:]
    return {
        "int": "an integer",
        "size": "an integer (vLLM also reads 8k = 8000, 8K = 8192)",
        "float": "a number",
        "choice": f"one of {', '.join(_CHOICES.get(name, ()))}",
        "multi": "one or more values" + (" (integers)" if name in _MULTI_INT else ""),
        "value": "one value",
    }.get(kind, "no value")


def _check_value(flag: str, value: str, where: str) -> None:
    kind, name = FLAG_KINDS[flag], flag[2:]
    ok = {
        "int": lambda v: re.fullmatch(r"-?\d+", v) is not None,
        "size": lambda v: _SIZE.match(v) is not None,
        "float": _is_number,
        "choice": lambda v: v in _CHOICES[name],
        "multi": lambda v: name not in _MULTI_INT or re.fullmatch(r"\d+", v) is not None,
    }.get(kind, lambda v: v != "")(value)
    if not ok:
        raise ValueError(f"{where}: {flag} takes {_describe(flag)}, got {value!r}")


def validate_extra_args(args: Sequence[str]) -> list[str]:
    """Return ``args`` unchanged, or raise ValueError naming the first bad token and its index.

    A flag must exist in :data:`VLLM_VERSION` (with a "did you mean" suggestion when
    not) and must not be one the component sets itself (the message names the Arg).
    Switches take no value (``--no-<switch>`` turns one off); every other flag takes
    exactly one value (``--flag value`` or ``--flag=value``) checked against its type,
    except list flags, which take one or more. A token that is neither a flag nor the
    value of the flag before it is rejected: ``vllm serve`` would read a stray positional
    as the model tag.
    """
    args = list(args)
    if args and not _is_flag(args[0]):
        raise ValueError(f"extraArgs[0] {args[0]!r}: extra args must start with a flag (vLLM {VLLM_VERSION} flags look like --max-num-batched-tokens)")
    i = 0
    while i < len(args):
        token = args[i]
        where = f"extraArgs[{i}] {token!r}"
        flag = _canonical(token)
        if flag in COMPONENT_OWNED:
            raise ValueError(f"{where}: {token.split('=', 1)[0]} is set by the component; use {COMPONENT_OWNED[flag]}")
        if flag not in VLLM_FLAGS:
            close = difflib.get_close_matches(flag, sorted(VLLM_FLAGS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"{where}: unknown vLLM {VLLM_VERSION} flag {token.split('=', 1)[0]}{hint} ({len(VLLM_FLAGS)} flags known, see components/vllm/flags.py)")
        head = token.split("=", 1)[0]
        kind = FLAG_KINDS[flag]
        negated = head.startswith("--no-") and head not in VLLM_FLAGS
        dotted = "." in head and head.startswith("--")
        inline = token.split("=", 1)[1] if "=" in token else None
        i += 1
        following: list[str] = []
        while i < len(args) and not _is_flag(args[i]):
            following.append(args[i])
            i += 1
        if negated and kind != "switch":
            raise ValueError(f"{where}: {head} is not a switch; {flag} takes {_describe(flag)}")
        if kind == "switch":
            if inline is not None or following:
                extra = inline if inline is not None else following[0]
                raise ValueError(f"{where}: {head} is a switch and takes no value, got {extra!r} (a stray positional would become vllm serve's model tag; use --no-{flag[2:]} to turn it off)")
            continue
        values = ([inline] if inline is not None else []) + following
        if not values:
            raise ValueError(f"{where}: {head} takes {_describe(flag)}, got none")
        if dotted:  # --compilation-config.level 3: one value of the sub-key, free form
            kind = "value"
        if kind != "multi" and len(values) > 1:
            stray = i - len(values) + 1
            raise ValueError(f"extraArgs[{stray}] {args[stray]!r}: stray value; {head} takes {_describe(flag) if not dotted else 'one value'} and vllm serve would read a stray positional as the model tag")
        if not dotted:
            for value in values:
                _check_value(flag, value, where)
    return args


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
