"""dump_yaml (libyaml where safe) writes exactly the bytes PyYAML's pure-Python emitter writes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.nodes import ScalarNode

from slm_deploy import yaml_dump
from slm_deploy.yaml_dump import dump_yaml, dump_yaml_reference

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

TRICKY = [
    "a\n", "a\nb", " lead\nx", "trail \nx", "tab\tx\ny", "ünï\ncode", "x" * 300, "a " * 100, "- x", "yes", "1.0", "",
    "\n", "a\n\n", "null", "k: v", "#c", "@x", "é", "\u2028x", "a\r\nb", "emoji 😀", "\x85x", "ends with space ",
    "long " + "word " * 60 + "\nsecond", "long " + "word " * 60 + "é", "'quoted'", '"dq"', "a: b\n  c: d\n",
]


def test_reference_stack_manifests_are_byte_identical():
    files = sorted(GOLDEN.glob("*/manifests/*.yaml")) + sorted(GOLDEN.glob("*/compose.yaml"))
    assert len(files) > 50
    for path in files:
        data = yaml.safe_load(path.read_text())
        assert dump_yaml(data) == dump_yaml_reference(data) == path.read_text(), path


def test_plain_manifests_use_libyaml():
    data = yaml.safe_load(next(GOLDEN.glob("prod/manifests/*.deployment.*.yaml")).read_text())
    assert not yaml_dump._needs_python_emitter(data)
    assert yaml_dump._needs_python_emitter({"k": "long " + "word " * 60 + "\nsecond"})  # a folded double-quoted line
    assert yaml_dump._needs_python_emitter({"0": "\n", "1": "x"})  # a keep-chomped literal before the end


def test_a_literal_keeping_its_line_breaks_before_the_last_key():
    """Found by the generated-data test: libyaml wrote a document end marker after '1: x' (its literal '|+' earlier)."""
    for data in ({"00": None, "0": "\n"}, {"0": "a\n\n", "1": "x"}, {"k": ["\n", "y"]}):
        assert dump_yaml(data) == dump_yaml_reference(data), data


def test_tricky_strings_are_byte_identical():
    for text in TRICKY:
        for data in ({"k": text}, {"l": [text, {text or "e": text}]}, {text or "e": {"n": [text]}}):
            assert dump_yaml(data) == dump_yaml_reference(data), repr(text)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300) | st.sampled_from(TRICKY)
_words = st.lists(st.sampled_from(["word", "x", " ", "\n", "a-b", ":", "#", "é", "\t", "  ", "{", "'"]), max_size=120).map("".join)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text | _words
_data = st.recursive(_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(_text | _words, c, max_size=4), max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_text | _words, _data, max_size=5))
def test_generated_data_is_byte_identical(data):
    assert dump_yaml(data) == dump_yaml_reference(data)


def _analyzed(text: str, is_key: bool) -> bool:
    """The decision taken by PyYAML's own analyze_scalar (the path every non-printable-ASCII text took before)."""
    if not text:
        return is_key
    analysis = yaml_dump._ANALYZER.analyze_scalar(text)
    if analysis.multiline:
        return is_key or not analysis.allow_block or yaml_dump._keeps_trailing_breaks(text)
    return not analysis.allow_single_quoted


@given(st.text(alphabet=" \n\t\r:#-'\"a|>é\x85\u2028", max_size=40), st.booleans())
@settings(max_examples=2000)
def test_the_ascii_lines_shortcut_decides_as_analyze_scalar(text, is_key):
    yaml_dump._emitters_may_differ.cache_clear()
    assert yaml_dump._emitters_may_differ(text, is_key) == _analyzed(text, is_key)


def test_a_mapping_or_list_met_twice_is_an_alias_as_in_pyyaml():
    shared, items = {"k": "v"}, ["a", "b"]
    data = {"a": shared, "b": {"c": shared, "d": items}, "e": items, "s": "same", "t": "same"}
    assert "&id001" in dump_yaml(data)
    assert dump_yaml(data) == dump_yaml_reference(data)
    loop: dict = {"x": 1}
    loop["self"] = loop
    assert dump_yaml(loop) == dump_yaml_reference(loop)


def test_floats_and_other_types_are_written_as_pyyaml_writes_them():
    import datetime
    import enum

    class Level(enum.IntEnum):
        ONE = 1

    for data in ({"f": [1e17, -0.0, 1.5, float("inf"), -float("inf"), float("nan"), 2.5e-300]},
                 {"t": ("a", "b")}, {1: "int key", "2": "str key"}, {"d": datetime.date(2026, 12, 1)}, {"b": b"\x00"},
                 {"s": {"x", }}, {True: "bool key"}, {None: "null key"}):
        assert dump_yaml(data) == dump_yaml_reference(data), data
    for refused in ({"level": Level.ONE}, {"level": [Level.ONE]}, {"o": object()}):
        with pytest.raises(yaml.representer.RepresenterError):
            dump_yaml(refused)
        with pytest.raises(yaml.representer.RepresenterError):
            dump_yaml_reference(refused)


def test_the_resolver_memo_answers_as_the_resolver():
    dumper = yaml_dump._CDumper(io.StringIO())
    plain = yaml.SafeDumper(io.StringIO())
    for value in ["", "yes", "1.0", "0x1f", "null", "~", "2026-12-01", "text", "=", "<<", ".inf", "1_000", "-"]:
        for implicit in ((True, False), (False, True)):
            for _ in range(2):
                assert dumper.resolve(ScalarNode, value, implicit) == plain.resolve(ScalarNode, value, implicit)


def _libyaml(data) -> str:
    return yaml.dump(data, Dumper=yaml_dump._CDumper, **yaml_dump._OPTIONS)


def test_manifests_are_written_directly_as_libyaml_writes_them():
    files = sorted(GOLDEN.glob("*/manifests/*.yaml")) + sorted(GOLDEN.glob("*/compose.yaml"))
    direct = 0
    for path in files:
        data = yaml.safe_load(path.read_text())
        text = yaml_dump._Writer().document(data)
        if text is not None:
            direct += 1
            assert text == _libyaml(data) == path.read_text(), path
    assert direct > 0.9 * len(files)


_line = st.text(alphabet=" abz019:#-'\"/.=@{}[],&*!|>%`?", max_size=50)
_lines = st.lists(_line, min_size=2, max_size=5).map("\n".join) | st.lists(_line, min_size=1, max_size=4).map(lambda ls: "\n".join(ls) + "\n")
_spaced = st.builds(lambda n, w: " ".join([w] * n), st.integers(1, 40), st.sampled_from(["a", "word", "x-y", "it's", "#"]))
_key = st.sampled_from(["a", "name", "app.kubernetes.io/name", "yes", "1", "null", "k: v", "-x", "'q'", "x" * 119,
                        "y" * 120, "z" * 125, "with space", "é"]) | _line
_value = (st.none() | st.booleans() | st.integers() | st.floats() | _line | _lines | _spaced
          | st.sampled_from(["", "~", "true", "0x1F", "1e3", "2026-12-01", "- x", "a: b", "=", "<<", " lead", "trail "]))
_doc = st.recursive(_value, lambda c: st.lists(c, max_size=4) | st.dictionaries(_key, c, max_size=5), max_leaves=30)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_key, _doc, min_size=1, max_size=6))
def test_the_direct_writer_writes_what_libyaml_and_pyyaml_write(data):
    """Manifest-shaped data: nested mappings and sequences, empty ones, keys and plain/quoted strings around the
    width (folding), resolver look-alikes, literals with blank and indented lines, numbers of every kind."""
    text = yaml_dump._Writer().document(data)
    if text is not None:
        assert text == _libyaml(data) == dump_yaml_reference(data)
    assert dump_yaml(data) == dump_yaml_reference(data)


def test_the_direct_writer_steps_aside_where_libyaml_may_fold_or_alias():
    shared = {"k": "v"}
    assert yaml_dump._Writer().document({"a": shared, "b": shared}) is None
    empty: dict = {}
    assert yaml_dump._Writer().document({"a": empty, "b": [empty]}) is None  # an empty one is aliased too
    assert yaml_dump.dump_yaml({"a": empty, "b": empty}) == yaml_dump.dump_yaml_reference({"a": empty, "b": empty})
    long_words = " ".join(["word"] * 30)
    assert yaml_dump._Writer().document({"k": long_words}) is None  # past the width with spaces: libyaml folds
    assert yaml_dump._Writer().document({"k": "x" * 300}) == _libyaml({"k": "x" * 300})  # no space: never folded
    assert yaml_dump._Writer().document({"k": "\n lead"}) is None  # a literal with an indentation hint
