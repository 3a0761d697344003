"""The Prometheus configs' YAML (components/monitoring/prometheus_config.to_yaml) is PyYAML's, byte for byte, whichever
emitter writes it."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components.monitoring import prometheus_config
from components.monitoring.prometheus_config import to_yaml, to_yaml_reference

_TEXT = (st.text(max_size=12) | st.text(alphabet=" abc-_:{}[]'\"#&*!|>%@`,?=~", max_size=40)
         | st.text(alphabet="ab ", min_size=990, max_size=1020)  # plain text longer than the line width
         | st.sampled_from(["", "\n", "a\n", "a\n\n", " a", "a ", "- a", "null", "1.5", "yes", "é", "\t", "'q'"]))
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT
_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                     max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(_DATA | st.dictionaries(_TEXT, _DATA, max_size=5))
def test_to_yaml_is_pythons_byte_for_byte(data):
    assert to_yaml(data) == to_yaml_reference(data)


def test_plain_text_goes_to_libyaml_and_the_rest_to_python(monkeypatch):
    used = []
    monkeypatch.setattr(yaml, "dump", lambda data, Dumper, **kw: used.append(Dumper) or "")
    to_yaml({"groups": [{"name": "slm-x", "rules": [{"expr": "rate(x[5m]) > 0.5", "for": "5m", "n": 3}]}]})
    for text in ("", "two\nlines", "é", "tab\there"):
        to_yaml({"a": [text]})
    to_yaml({"": 1})
    to_yaml(["top-level list"])
    assert used[0] is prometheus_config._CDumper
    assert used[1:] == [prometheus_config._Dumper] * 6


def test_a_100_service_rule_file_is_written_by_libyaml(synthesized):
    """The stack's rule file (every service's alerts) is plain text: the fast emitter writes it, PyYAML's bytes."""
    rules = next(r for r in synthesized("prod").resources if r.type == "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    groups = rules.inputs["spec"]["groups"]
    assert prometheus_config._plain_text_only({"groups": groups * 50})
    assert to_yaml({"groups": groups}) == to_yaml_reference({"groups": groups})
