"""stacks/yaml_reader.py reads a clean stack file through libyaml (``_read_fast``) and everything else through the
pure-Python composer (``_read``): wherever the libyaml path answers, its document is the pure-Python one (data with
its types, every key path's line, the root line); wherever it cannot be sure, it declines."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks import yaml_reader
from stacks.errors import ConfigError
from tests.conftest import REPO


def _typed(value):
    """Data with its types made visible (1, 1.0 and True differ; NaN equals itself)."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _same_as_pure_python(text: str) -> bool:
    """Whether the libyaml path answered; if it did, the answer is the pure-Python path's."""
    fast = yaml_reader._read_fast(text, "f.yaml")
    if fast is None:
        return False
    slow = yaml_reader._read(text, "f.yaml")
    assert _typed(fast.data) == _typed(slow.data)
    assert fast.lines == slow.lines and fast.root_line == slow.root_line
    assert fast.problems == slow.problems == [] and fast.dropped == slow.dropped == set()
    return True


@pytest.mark.parametrize("path", sorted((REPO / "stacks").glob("Pulumi.*.yaml")) + [REPO / "Pulumi.yaml"],
                         ids=lambda p: p.name)
def test_every_reference_file_reads_alike_through_libyaml(path):
    assert _same_as_pure_python(path.read_text())


@pytest.mark.parametrize("text", [
    "config:\n  a: &x 1\n  b: *x\n",                # anchors and aliases: refused with located problems
    "config:\n  a: 1\n  a: 2\n",                    # a duplicate key
    "config:\n  ? [a, b]\n  : 1\n",                 # a complex key
    "config:\n  a: 'open\n",                        # a syntax error
    "config:\n  a: !!python/object:os.system 1\n",  # an unsafe tag (the constructor refuses it)
    "config: 1\r\n",                                # a line break other than \n
    "config:\n  a: \x07\n",                         # a character the pure-Python reader refuses
    "config:\n  a:\t2\n",                           # a tab as a separator: libyaml takes it, PyYAML refuses it
    "config:\n  a: 1\t\n",                          # a tab as trailing whitespace: the same
    "config:\n  a: !\n",                             # a bare tag: libyaml reads '', PyYAML None
    "",                                             # no document
    "a: 1\n---\nb: 2\n",                            # two documents
    "config:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80)) + "  " * 80 + "v: 1\n",  # deeper than 64
])
def test_whatever_is_not_clean_is_left_to_the_pure_python_path(text):
    assert yaml_reader._read_fast(text, "f.yaml") is None


def test_read_yaml_reports_what_the_libyaml_path_declines(tmp_path):
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text("config:\n  a: 1\n  a: 2\n")
    assert [p.line for p in yaml_reader.read_yaml(path, "f.yaml").problems] == [3]
    path.write_text("config:\n  a: 'open\n")
    with pytest.raises(ConfigError) as info:
        yaml_reader.read_yaml(path, "f.yaml")
    assert info.value.problems[0].line == 2
    path.write_text("config:\n  a: 1\t\n")  # what PyYAML refuses is refused whatever else the file holds
    with pytest.raises(ConfigError) as info:
        yaml_reader.read_yaml(path, "f.yaml")
    assert info.value.problems[0].line == 2


_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
            | st.sampled_from(["yes", "no", "on", "off", "~", "null", "0x1f", "0o17", "1e3", "1_000", ".inf", "-.nan",
                               "2026-12-01", "12:30:00", "'quoted'", "a: b", "- x", "# not a comment", "%percent",
                               "@at", "`tick", "!bang", "|pipe", ">fold", "tab\there", " lead", "trail "]))
_KEYS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8) | st.sampled_from(
    ["slm-deploy:vllm", "kubernetes:context", "on", "1", "null"])
_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
                     max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _DATA, max_size=5), st.booleans(), st.sampled_from([None, 2, 4]))
def test_generated_documents_read_alike_through_both_paths(data, flow, indent):
    """Documents as PyYAML writes them (block and flow style, several indents, every kind of scalar and key)."""
    text = yaml.safe_dump({"config": data}, default_flow_style=flow, indent=indent, allow_unicode=True, sort_keys=False)
    _same_as_pure_python(text)
