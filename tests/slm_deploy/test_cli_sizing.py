"""`models` and `size` commands through typer's CliRunner on a local app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from slm_deploy.commands.sizing import register

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_models_json_lists_catalog(app):
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    by_id = {r["id"]: r for r in rows}
    assert by_id["qwen3-14b"]["param_class"] == "medium"
    assert isinstance(by_id["qwen3-8b"]["checkpoint_bytes"], int)


def test_models_table(app):
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "phi-4-mini-instruct" in result.stdout


def test_size_json_has_integer_bytes_and_settings(app):
    result = runner.invoke(app, ["size", "phi-4-mini-instruct", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    for key in ("weights_bytes", "kv_cache_bytes", "overhead_bytes", "total_bytes"):
        assert isinstance(data[key], int)
    assert data["total_bytes"] == data["weights_bytes"] + data["kv_cache_bytes"] + data["overhead_bytes"]
    assert data["fits"] is True
    assert data["settings"]["max_model_len"] == 8192
    assert "--max-num-seqs" in data["settings"]["engine_args"]
    assert "1x l4" in data["fits_on"]


def test_size_non_fit_is_a_report_with_exit_0(app):
    # 16 concurrent 40k sequences of Qwen3-14B need more than one node of L4s
    result = runner.invoke(app, ["size", "qwen3-14b", "--hardware", "l4", "--ctx", "40960",
                                 "--concurrency", "32", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fits"] is False and data["suggestions"]
    assert "1x h200" not in data["fits_on"]


def test_size_table_shows_verdict(app):
    result = runner.invoke(app, ["size", "qwen3-8b", "--engine", "ollama", "--hardware", "cpu-4gb"])
    assert result.exit_code == 0
    assert "does not fit" in result.stdout and "cpu-16gb" in result.stdout


def test_size_onnx_engine(app):
    result = runner.invoke(app, ["size", "phi-4-mini-instruct", "--engine", "onnx", "--ctx", "2048",
                                 "--concurrency", "1", "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["settings"]["max_length"] == "2048"
    assert data["quantization"] == "cpu-int4"


@pytest.mark.parametrize("args,needle", [
    (["size", "qwen3-9b"], "Did you mean 'qwen3-8b'"),
    (["size", "qwen3-8b", "--hardware", "t4"], "unknown gpu"),
    (["size", "qwen3-8b", "--quant", "int3"], "unknown quantization"),
    (["size", "qwen3-8b", "--engine", "tgi"], "--engine must be one of"),
    (["size", "phi-4-mini-instruct", "--quant", "awq"], "offers vllm quantizations"),
    (["size", "qwen3-8b", "--engine", "ollama", "--hardware", "l4"], "GPUs are for --engine vllm"),
])
def test_bad_input_is_one_line_exit_2(app, args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
