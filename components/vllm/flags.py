"""The ``vllm serve`` flag list of the pinned vLLM version, and the extra-args validator.

The flag list and each flag's value kind are data generated from the released vLLM wheel of the pinned
image version (``flags.json`` beside this module, written by ``scripts/vllm_flags_from_wheel.py`` with
``scripts/vllm_arg_kinds.py``, which read ``vllm/engine/arg_utils.py``, ``vllm/entrypoints/openai/cli_args.py``
and the config dataclasses as source). The file records the wheel's version and sha256, the sha256 of
every file read and, for every flag, where it is defined and where its kind comes from.
``tests/components/vllm/test_vllm_flags.py`` fails when the ``vllm-openai`` tag in ``components/versions.yaml``
and the list's version differ: bump both together (``pip download vllm==<version> --no-deps``, then the script).

Boolean flags are argparse ``BooleanOptionalAction``s (``switch``), so ``--no-<flag>`` is accepted for them;
``store_true`` flags have no ``--no-`` form; JSON config flags accept dotted sub-keys
(``--compilation-config.level 3``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from components.validation import TypeName

__all__ = ["VLLM_VERSION", "VLLM_FLAGS", "FLAG_SOURCES", "FLAGS_FILE", "FLAG_KINDS", "KINDS", "SHORT_ALIASES",
           "COMPONENT_OWNED", "validate_extra_args", "VllmFlags"]

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
# How many values each flag takes, and of what type: generated with the flag list from the same wheel
# (``kinds`` in flags.json, by scripts/vllm_arg_kinds.py, which applies vLLM's own get_kwargs rules to the
# config dataclasses' type annotations and add_cli_args' keyword arguments). Each entry says where it
# comes from (``from``: the field's annotation and the add_argument call).

KINDS: dict[str, dict] = dict(_DATA["kinds"])
"""``--flag`` -> ``{"kind": ..., "choices"?, "element"?, "count"?, "none_ok"?, "from": "<file>:<line>..."}``."""

FLAG_KINDS: dict[str, str] = {flag: spec["kind"] for flag, spec in KINDS.items()}
"""``--flag`` -> ``switch`` | ``store_true`` | ``int`` | ``size`` | ``float`` | ``choice`` | ``multi`` |
``optional`` | ``value`` (see scripts/vllm_arg_kinds.py)."""

_NO_VALUE = ("switch", "store_true")
_SIZE = re.compile(r"^\d+(\.\d+)?[kKmMgGtT]?$")
_NONE = ("None", "")  # vLLM's optional_type reads both as None


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
    spec = KINDS[flag]
    element = spec.get("element", "str")
    text = {
        "int": "an integer",
        "size": "an integer (vLLM also reads 8k = 8000, 8K = 8192)",
        "float": "a number",
        "choice": f"one of {', '.join(spec.get('choices', ()))}",
        "multi": "one or more values" + (" (integers)" if element == "int" else " (numbers)" if element == "float" else "")
                 + (f" from {', '.join(spec['choices'])}" if spec.get("choices") else ""),
        "optional": "at most one value",
        "value": "one value",
    }.get(spec["kind"], "no value")
    return text + (" or None" if spec.get("none_ok") and spec["kind"] in ("int", "size", "float") else "")


def _is_int(value: str) -> bool:
    return re.fullmatch(r"-?\d+", value) is not None


def _check_value(flag: str, value: str, where: str) -> None:
    spec = KINDS[flag]
    kind = spec["kind"]
    if spec.get("none_ok") and kind in ("int", "size", "float") and value in _NONE:
        return
    if kind == "multi":
        element = {"int": _is_int, "float": _is_number}.get(spec.get("element", "str"), lambda v: True)
        ok = element(value) and (not spec.get("choices") or value in spec["choices"])
    else:
        ok = {
            "int": _is_int,
            "size": lambda v: _SIZE.match(v) is not None,
            "float": _is_number,
            "choice": lambda v: v in spec["choices"],
        }.get(kind, lambda v: v != "")(value)
    if not ok:
        raise ValueError(f"{where}: {flag} takes {_describe(flag)}, got {value!r}")


def validate_extra_args(args: Sequence[str], *, component: bool = False) -> list[str]:
    """Return ``args`` unchanged, or raise ValueError naming the first bad token and its index.

    A flag must exist in :data:`VLLM_VERSION` (with a "did you mean" suggestion when
    not) and must not be one the component sets itself (the message names the Arg;
    ``component=True`` checks the component's own command line, where they are expected).
    Switches take no value (``--no-<switch>`` turns one off); every other flag takes
    exactly one value (``--flag value`` or ``--flag=value``) checked against its generated
    kind, except list flags, which take one or more, and ``nargs="?"`` flags, at most one.
    A token that is neither a flag nor the value of the flag before it is rejected:
    ``vllm serve`` would read a stray positional as the model tag.
    """
    args = list(args)
    if args and not _is_flag(args[0]):
        raise ValueError(f"extraArgs[0] {args[0]!r}: extra args must start with a flag (vLLM {VLLM_VERSION} flags look like --max-num-batched-tokens)")
    i = 0
    while i < len(args):
        token = args[i]
        where = f"extraArgs[{i}] {token!r}"
        flag = _canonical(token)
        if flag in COMPONENT_OWNED and not component:
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
            what = "has no --no- form (it is a plain switch)" if kind == "store_true" else f"is not a switch; {flag} takes {_describe(flag)}"
            raise ValueError(f"{where}: {head} {what}")
        if kind in _NO_VALUE:
            if inline is not None or following:
                extra = inline if inline is not None else following[0]
                off = f"; use --no-{flag[2:]} to turn it off" if kind == "switch" else ""
                raise ValueError(f"{where}: {head} is a switch and takes no value, got {extra!r} (a stray positional would become vllm serve's model tag{off})")
            continue
        values = ([inline] if inline is not None else []) + following
        if not values and kind != "optional":
            raise ValueError(f"{where}: {head} takes {_describe(flag)}, got none")
        if dotted:  # --compilation-config.level 3: one value of the sub-key, free form
            kind = "value"
        count = KINDS[flag].get("count") if kind == "multi" else None
        if count is not None and len(values) != count:
            raise ValueError(f"{where}: {head} takes exactly {count} values, got {len(values)}")
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


VllmFlags = Annotated[list[str], AfterValidator(validate_extra_args), TypeName(
    f"list[vllm serve flag ({VLLM_VERSION})]",
    "flags of the pinned vllm serve (components/vllm/flags.json) with their values; no flag the component sets itself")]
"""``extraArgs``: flags (and their values) of the pinned ``vllm serve``, checked by :func:`validate_extra_args`."""
