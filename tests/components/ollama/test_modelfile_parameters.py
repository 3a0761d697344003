"""PARAMETER names and types come from the pinned Ollama's api/types.go (components/ollama/parameters.json)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from components.ollama.modelfile import PARAMETERS, PARAMETERS_FILE, check_parameter


def test_parameters_are_the_generated_data_of_the_pinned_version():
    data = json.loads(PARAMETERS_FILE.read_text())
    pinned = yaml.safe_load((PARAMETERS_FILE.parents[1] / "versions.yaml").read_text())["images"]["ollama"]["tag"]
    assert data["version"] == pinned.removeprefix("v"), "regenerate with scripts/ollama_params_from_source.py"
    assert data["generator"] == "scripts/ollama_params_from_source.py" and data["file"] == "api/types.go"
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit"]) and re.fullmatch(r"[0-9a-f]{64}", data["sha256"])
    assert set(PARAMETERS) == set(data["parameters"])
    assert {"num_ctx", "temperature", "stop", "use_mmap"} <= set(PARAMETERS)
    assert PARAMETERS["num_ctx"] is int and PARAMETERS["temperature"] is float and PARAMETERS["use_mmap"] is bool
    assert all(spec["struct"] in ("Options", "Runner") and spec["line"] > 0 for spec in data["parameters"].values())


@pytest.mark.parametrize("name", ["mirostat", "mirostat_eta", "mirostat_tau"])
def test_parameters_the_pinned_ollama_dropped_are_refused(name):
    """ollama create 0.12.3 fails with "unknown parameter" on these (api.FormatParams, api/types.go:1009-1010)."""
    with pytest.raises(ValueError, match=f"PARAMETER {name} is not an Ollama Modelfile parameter; Ollama 0.12.3 no longer has it"):
        check_parameter(name, 1)


def test_generator_reads_the_structs(tmp_path):
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).parents[3] / "scripts" / "ollama_params_from_source.py"
    spec = importlib.util.spec_from_file_location("ollama_params_from_source", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ollama_params_from_source", module)
    spec.loader.exec_module(module)
    types_go = ("package api\n\ntype Options struct {\n\tRunner\n\n\tSeed int `json:\"seed,omitempty\"`\n"
                "\tTemperature float32 `json:\"temperature,omitempty\"`\n\tStop []string `json:\"stop,omitempty\"`\n}\n\n"
                "type Runner struct {\n\tNumCtx int `json:\"num_ctx,omitempty\"`\n\tUseMMap *bool `json:\"use_mmap,omitempty\"`\n}\n")
    params = module.parameters(types_go)
    assert params == {"seed": {"go_type": "int", "struct": "Options", "line": 6},
                      "temperature": {"go_type": "float32", "struct": "Options", "line": 7},
                      "stop": {"go_type": "[]string", "struct": "Options", "line": 8},
                      "num_ctx": {"go_type": "int", "struct": "Runner", "line": 12},
                      "use_mmap": {"go_type": "*bool", "struct": "Runner", "line": 13}}
    with pytest.raises(SystemExit, match="type Runner struct not found"):
        module.parameters(types_go.replace("type Runner struct", "type Other struct"))
