"""scripts/vllm_arg_kinds.py on a small source shaped like vLLM's (the real wheel is not in the repository):
each of get_kwargs' rules, the keyword arguments and dict edits of add_cli_args, and a refusal when the
source has a shape the script does not know."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).parents[3] / "scripts" / "vllm_arg_kinds.py"
_spec = importlib.util.spec_from_file_location("vllm_arg_kinds", _SCRIPT)
kinds_module = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("vllm_arg_kinds", kinds_module)  # dataclasses look their module up while defining
_spec.loader.exec_module(kinds_module)

CONFIG = '''
from dataclasses import field
from typing import TYPE_CHECKING, ClassVar, Literal, Optional, Union

from pydantic import SkipValidation
from pydantic.dataclasses import dataclass

from vllm.config.types import Dtype, Sizes

if TYPE_CHECKING:
    from vllm.other import Opaque

BlockSize = Literal[1, 8, 16]


@dataclass
class SubConfig:
    level: int = 0


@dataclass
class ModelConfig:
    registry: ClassVar[dict] = {}
    model: str = "m"
    trust_remote_code: bool = False
    seed: Optional[int] = None
    max_model_len: SkipValidation[int] = None
    gpu_memory_utilization: float = 0.9
    dtype: Union[Dtype, None] = "auto"
    config_format: Union[str, Dtype] = "auto"
    block_size: SkipValidation[BlockSize] = None
    cuda_graph_sizes: list[int] = field(default_factory=list)
    pair: tuple[int, int] = (1, 2)
    served_model_name: Optional[Union[str, list[str]]] = None
    hf_overrides: dict[str, int] = field(default_factory=dict)
    sub: SubConfig = field(default_factory=SubConfig)
    impl: Optional["Opaque"] = None
'''

TYPES = '''
from typing import Literal
Dtype = Literal["auto", "half", "bfloat16"]
Sizes = list[int]
'''

ARG_UTILS = '''
import argparse
from vllm.config import ModelConfig


class EngineArgs:
    @staticmethod
    def add_cli_args(parser):
        model_kwargs = get_kwargs(ModelConfig)
        group = parser.add_argument_group("ModelConfig")
        group.add_argument("--model", **model_kwargs["model"])
        group.add_argument("--trust-remote-code", **model_kwargs["trust_remote_code"])
        group.add_argument("--seed", **model_kwargs["seed"])
        group.add_argument("--max-model-len", **model_kwargs["max_model_len"])
        group.add_argument("--gpu-memory-utilization", **model_kwargs["gpu_memory_utilization"])
        group.add_argument("--dtype", **model_kwargs["dtype"])
        group.add_argument("--config-format", **model_kwargs["config_format"])
        group.add_argument("--block-size", **model_kwargs["block_size"])
        group.add_argument("--cuda-graph-sizes", **model_kwargs["cuda_graph_sizes"])
        group.add_argument("--pair", **model_kwargs["pair"])
        group.add_argument("--served-model-name", **model_kwargs["served_model_name"])
        group.add_argument("--hf-overrides", **model_kwargs["hf_overrides"])
        group.add_argument("--sub", **model_kwargs["sub"])
        group.add_argument("--impl", **model_kwargs["impl"])
        group.add_argument("--reasoning-parser", choices=list(REGISTRY), **model_kwargs["model"])
        group.add_argument("--hf-token", type=str, nargs="?", const=True)
        for arg, type in [("--old-switch", bool), ("--old-name", str)]:
            group.add_argument(arg, type=type, deprecated=True)
        parser.add_argument("--disable-log-stats", action="store_true")
        parser.add_argument("--data-parallel-rank", "-dpn", type=int)


class AsyncEngineArgs(EngineArgs):
    @staticmethod
    def add_cli_args(parser):
        parser.add_argument("--enable-log-requests", action=argparse.BooleanOptionalAction)
'''

CLI_ARGS = '''
import json
from dataclasses import dataclass
from typing import Optional


@dataclass
class FrontendArgs:
    port: int = 8000
    allowed_origins: list[str] = None
    api_key: Optional[list[str]] = None
    tool_call_parser: Optional[str] = None

    @staticmethod
    def add_cli_args(parser):
        frontend_kwargs = get_kwargs(FrontendArgs)
        frontend_kwargs["allowed_origins"]["type"] = json.loads
        del frontend_kwargs["allowed_origins"]["nargs"]
        frontend_kwargs["tool_call_parser"]["metavar"] = "{a,b}"
        for key, value in frontend_kwargs.items():
            parser.add_argument(f"--{key.replace('_', '-')}", **value)
        return parser


def make_arg_parser(parser):
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("--api-server-count", "-asc", type=int, default=1)
    parser.add_argument("--config")
    return parser
'''


def _files(**overrides: str) -> dict[str, str]:
    files = {
        "vllm/__init__.py": "",
        "vllm/config/__init__.py": "from vllm.config.model import ModelConfig\n",
        "vllm/config/model.py": CONFIG,
        "vllm/config/types.py": TYPES,
        "vllm/engine/arg_utils.py": ARG_UTILS,
        "vllm/entrypoints/openai/cli_args.py": CLI_ARGS,
    }
    files.update(overrides)
    return {path: textwrap.dedent(text) for path, text in files.items()}


def _kinds(**overrides: str) -> dict:
    kinds, _read = kinds_module.flag_kinds(_files(**overrides), "vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py")
    return {flag: {k: v for k, v in spec.items() if k not in ("from", "notes")} for flag, spec in kinds.items()}


def test_get_kwargs_rules_on_annotations():
    kinds = _kinds()
    assert kinds["--model"] == {"kind": "value"}
    assert kinds["--trust-remote-code"] == {"kind": "switch"}
    assert kinds["--seed"] == {"kind": "int", "none_ok": True}
    assert kinds["--max-model-len"] == {"kind": "size"}  # human_readable_int, through SkipValidation
    assert kinds["--gpu-memory-utilization"] == {"kind": "float"}
    assert kinds["--dtype"] == {"kind": "choice", "choices": ["auto", "bfloat16", "half", "None"], "none_ok": True}
    assert kinds["--config-format"] == {"kind": "value"}  # a Literal beside str: metavar, not choices
    assert kinds["--block-size"] == {"kind": "choice", "choices": ["1", "8", "16"]}
    assert kinds["--cuda-graph-sizes"] == {"kind": "multi", "element": "int"}
    assert kinds["--pair"] == {"kind": "multi", "element": "int", "count": 2}
    assert kinds["--served-model-name"] == {"kind": "multi", "element": "str", "none_ok": True}
    assert kinds["--hf-overrides"] == {"kind": "value"} and kinds["--sub"] == {"kind": "value"}  # JSON
    assert kinds["--impl"] == {"kind": "value", "none_ok": True}  # a class from elsewhere: str


def test_add_cli_args_keywords_loops_and_edits():
    kinds = _kinds()
    assert kinds["--reasoning-parser"] == {"kind": "value"}  # choices from a registry are not static
    assert kinds["--hf-token"] == {"kind": "optional"}
    assert kinds["--old-switch"] == {"kind": "value"} and kinds["--old-name"] == {"kind": "value"}  # type=bool takes a value
    assert kinds["--disable-log-stats"] == {"kind": "store_true"} and kinds["--headless"] == {"kind": "store_true"}
    assert kinds["--enable-log-requests"] == {"kind": "switch"}
    assert kinds["--data-parallel-rank"] == {"kind": "int"} and kinds["--api-server-count"] == {"kind": "int"}
    assert kinds["--config"] == {"kind": "value"}
    assert kinds["--port"] == {"kind": "int"}
    assert kinds["--allowed-origins"] == {"kind": "value"}  # type json.loads, nargs deleted
    assert kinds["--api-key"] == {"kind": "multi", "element": "str", "none_ok": True}
    assert kinds["--tool-call-parser"] == {"kind": "value", "none_ok": True}


def test_every_entry_says_where_it_comes_from():
    kinds, read = kinds_module.flag_kinds(_files(), "vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py")
    assert kinds["--seed"]["from"].startswith("vllm/config/model.py:") and "vllm/engine/arg_utils.py:" in kinds["--seed"]["from"]
    assert {"vllm/config/model.py", "vllm/config/types.py", "vllm/engine/arg_utils.py"} <= read


def test_a_source_shape_the_script_does_not_know_stops_it():
    broken = ARG_UTILS.replace('group.add_argument("--model", **model_kwargs["model"])',
                               'group.add_argument("--model", **EXTRA)')
    with pytest.raises(SystemExit, match="is not a get_kwargs"):
        _kinds(**{"vllm/engine/arg_utils.py": broken})
