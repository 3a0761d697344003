"""Text that becomes instructions (issue #10, item 2): Modelfile fields cannot smuggle a second instruction.

Rendered Modelfiles are read back with a port of Ollama's own parser (components/ollama/modelfile_parser.py,
from ollama's parser/parser.go): exactly one FROM, the pinned one, and every multi-line field one value.
"""

from __future__ import annotations

import pytest

from components.ollama.modelfile import ModelfileVariant, render_modelfile
from components.ollama.modelfile_parser import ModelfileSyntaxError, parse_modelfile
from stacks.loader import load_stack
from tests.conftest import REPO, stack_problems

BASE = "qwen3:0.6b-q4_K_M"


def _variant(**fields) -> ModelfileVariant:
    return ModelfileVariant.model_validate({"name": "v", "base": BASE, **fields})


def test_the_parser_port_sees_the_smuggled_from():
    """The attack, as Ollama reads it: a newline inside a raw line starts a second FROM."""
    commands = parse_modelfile(f"FROM {BASE}\nLICENSE MIT\nFROM evil/model:latest\n")
    assert [c.args for c in commands if c.name == "model"] == [BASE, "evil/model:latest"]
    assert parse_modelfile('FROM a\nSYSTEM """one\nFROM evil"""\n')[1].args == "one\nFROM evil"


@pytest.mark.parametrize("fields", [
    {"instructions": ["LICENSE MIT\nFROM evil/model:latest"]},
    {"instructions": ["LICENSE MIT\rADAPTER /etc/passwd"]},
    {"instructions": ["MESSAGE user hi\u2028FROM evil"]},
    {"parameters": {"stop": "<|end|>\nFROM evil/model:latest"}},
    {"parameters": {"stop": "<|end|>\rADAPTER /etc/passwd"}},
    {"parameters": {"stop": 'x" \nFROM evil'}},
])
def test_control_characters_in_single_line_fields_are_refused(fields):
    with pytest.raises(ValueError, match="control characters|must be a str"):
        _variant(**fields)


@pytest.mark.parametrize("field", ["system", "template", "license"])
@pytest.mark.parametrize("text,message", [
    ('fine """\nFROM evil/model:latest\n"""', 'must not contain """'),
    ("line\rFROM evil", "control characters other than newline and tab"),
    ("bell\x07", "control characters other than newline and tab"),
])
def test_multi_line_fields_refuse_what_would_break_the_quoting(field, text, message):
    with pytest.raises(ValueError, match=message):
        _variant(**{field: text})


def test_an_unterminated_quote_in_a_raw_line_is_refused():
    with pytest.raises(ValueError, match="parser rejects"):
        _variant(instructions=['LICENSE """MIT'])


@pytest.mark.parametrize("text", [
    "You answer briefly.\nFROM evil/model:latest\nADAPTER /etc/passwd",
    '"quoted" start and a "quote" end"',
    "  leading and trailing spaces  ",
    "tabs\tand\n\nblank lines\n",
])
def test_multi_line_fields_read_back_as_one_value(text):
    variant = _variant(system=text, template="{{ .System }}\n{{ .Prompt }}", license=text,
                       messages=[{"role": "user", "content": text}])
    commands = parse_modelfile(render_modelfile(variant, BASE))
    assert [c.args for c in commands if c.name == "model"] == [BASE]
    assert [c.args for c in commands if c.name == "system"] == [text]
    assert [c.args for c in commands if c.name == "license"] == [text]
    assert [c.args for c in commands if c.name == "message"] == [f"user: {text}"]
    assert not [c for c in commands if c.name == "adapter"]


def test_raw_lines_and_parameters_read_back_exactly():
    variant = _variant(parameters={"stop": ["<|end|>", "<|user|>"], "temperature": 0.2},
                       instructions=["PARAMETER top_k 20", "MESSAGE assistant Hello there", "LICENSE MIT"])
    commands = parse_modelfile(render_modelfile(variant, BASE))
    assert [(c.name, c.args) for c in commands] == [
        ("model", BASE), ("stop", "<|end|>"), ("stop", "<|user|>"), ("temperature", "0.2"),
        ("top_k", "20"), ("message", "assistant: Hello there"), ("license", "MIT")]


@pytest.mark.parametrize("stack", ["dev", "cpu"])
def test_reference_modelfiles_have_exactly_one_from_the_pinned_one(stack, tmp_path):
    from slm_deploy.pipeline import synth_stack
    from slm_deploy.render import generated_files

    loaded = load_stack(stack, REPO)
    files = {k: v for k, v in generated_files(synth_stack(loaded)).items() if k.endswith(".Modelfile")}
    assert files
    for path, text in files.items():
        variant = next(m for m in loaded.config.ollama.modelfiles if path.endswith(f"/{m.name}.Modelfile"))
        froms = [c.args for c in parse_modelfile(text) if c.name == "model"]
        assert len(froms) == 1, (path, froms)
        assert ":" in froms[0] and not froms[0].endswith(":latest"), froms  # a pinned tag
        assert render_modelfile(variant, froms[0]) == text  # and it is the one the component pinned


def test_smuggled_from_in_a_stack_file_is_refused_at_load(scratch_project):
    [line] = stack_problems(scratch_project, """config:
  slm-deploy:target: kubernetes
  slm-deploy:namespace: slm-x
  slm-deploy:ollama:
    models: [qwen3-0.6b]
    modelfiles:
      - name: support
        base: qwen3-0.6b
        instructions:
          - "LICENSE MIT\\nFROM evil/model:latest"
""")
    assert line.startswith("stacks/Pulumi.t.yaml:") and "slm-deploy:ollama.modelfiles[0].instructions" in line
    assert "control characters" in line


def test_parser_port_errors_like_ollama():
    with pytest.raises(ModelfileSyntaxError, match="no FROM"):
        parse_modelfile("SYSTEM hi\n")
    with pytest.raises(ModelfileSyntaxError, match="not a Modelfile command"):
        parse_modelfile("FROM a\nFILE x\n")
    with pytest.raises(ModelfileSyntaxError, match="unterminated"):
        parse_modelfile('FROM a\nSYSTEM """open\n')
