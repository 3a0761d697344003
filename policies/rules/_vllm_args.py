"""vLLM command-line reading shared by the risky-flag rules (CKV_SLM_021–026).

vLLM's ``FlexibleArgumentParser`` accepts ``--flag_name`` as ``--flag-name`` and ``--flag=value`` as
``--flag value``; boolean flags are ``argparse.BooleanOptionalAction`` (``--no-flag`` turns them off,
the last occurrence wins). Flag spellings are those of vLLM v0.11.0 (``vllm/engine/arg_utils.py``,
``vllm/entrypoints/openai/cli_args.py``; see docs/vllm.md).
"""
from __future__ import annotations

import json
from collections.abc import Callable

from policies.rules._argv import tokens
from policies.rules._identify import is_vllm_image
from policies.rules._k8s import container_argv, judge_containers
from policies.rules._types import Result

__all__ = ["normalized", "switch_on", "values_of", "json_value", "judge_vllm"]


def normalized(argv: list[str]) -> list[str]:
    """Tokens with long-flag names spelled with dashes (``--trust_remote_code`` -> ``--trust-remote-code``)."""
    out = []
    # A whole shell line in one item (`sh -c "vllm serve ..."`) is split into words; a flag or a JSON value
    # (`--allowed-origins=["a", "*"]`, `{"model": "x"}`) stays one token.
    words = [w for item in argv for w in ([item] if item.lstrip()[:1] in ("-", "{", "[") else tokens([item]))]
    for tok in words:
        if tok.startswith("--"):
            name, sep, value = tok.partition("=")
            tok = name.replace("_", "-") + sep + value
        out.append(tok)
    return out


def switch_on(toks: list[str], flag: str) -> bool:
    """A BooleanOptionalAction flag's final state: the last ``--flag`` / ``--no-flag`` wins."""
    state = False
    negated = "--no-" + flag[2:]
    for tok in toks:
        if tok == flag:
            state = True
        elif tok == negated:
            state = False
    return state


def values_of(toks: list[str], *flags: str) -> list[str]:
    """Every value given to any of ``flags`` (``--f v`` or ``--f=v``)."""
    found = []
    for i, tok in enumerate(toks):
        for flag in flags:
            if tok == flag and i + 1 < len(toks):
                found.append(toks[i + 1])
            elif tok.startswith(flag + "="):
                found.append(tok[len(flag) + 1:])
    return found


def json_value(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def judge_vllm(obj: dict, problems_of: Callable[[list[str]], list[str]]) -> Result:
    """Apply ``problems_of(tokens)`` to every vLLM container's command line."""
    return judge_containers(obj, lambda c, _spec: problems_of(normalized(container_argv(c)))
                            if is_vllm_image(c.get("image")) else None)
