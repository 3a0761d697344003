"""The caches' JSON (slm_deploy/gate/store_json.py, orjson) decodes to what the standard library's round trip gives,
or refuses what the standard library refuses."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_deploy.gate import store_json
from slm_deploy.gate.result import Finding, GateResult

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text())
_keys = st.text() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.booleans() | st.none()
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
                       | st.dictionaries(_keys, inner, max_size=5), max_leaves=30)


def _typed(value):
    """A value with every scalar's type beside it (``1 == 1.0 == True`` would hide a changed type)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_round_trip_equals_the_standard_librarys(value):
    expected = json.loads(json.dumps(value))
    assert _typed(store_json.loads(store_json.dumps(value))) == _typed(expected)
    assert json.loads(store_json.dumps(value)) == expected  # and the standard library reads it


@dataclasses.dataclass
class _Record:
    a: int


@pytest.mark.parametrize("value", [date(2026, 1, 1), datetime(2026, 1, 1, 10), _Record(1), {"a": [date(2026, 1, 1)]},
                                   2**64, -(2**63) - 1, object()])
def test_refuses_what_would_come_back_as_another_type(value):
    with pytest.raises(TypeError):
        store_json.dumps(value)


def test_invalid_json_is_a_value_error():
    for data in (b"{", b"", b"NaN", "[1,]"):
        with pytest.raises(ValueError):
            store_json.loads(data)


def test_a_verdict_round_trips_through_the_cache_form():
    finding = Finding("CKV_K8S_1", "name | with <xml> & \"quotes\"\n", "Deployment.ns.x", "manifests/x.yaml",
                      "msg é ✓ \t", severity="HIGH", line=3)
    result = GateResult("demo", passed=[finding], failed=[finding], checks={"CKV_K8S_1": {"name": "n"}},
                        scanned=["manifests/x.yaml"], waiver_file={"path": "p", "sha256": "", "override": False},
                        stale_waivers=[{"id": "w", "expires": "2026-01-01"}], cache_key="k")
    again = GateResult.from_cache(store_json.loads(store_json.dumps(result.to_cache())))
    assert again == result


def test_bulk_finding_conversions_equal_the_per_finding_ones():
    from slm_deploy.gate.result import finding_from_values, finding_values, findings_from_values, findings_values

    findings = [Finding("CKV_K8S_1", "n", f"Deployment.ns.x{i}", "manifests/x.yaml", "m", line=i) for i in range(5)]
    assert findings_values(findings) == [finding_values(f) for f in findings]
    rows = store_json.loads(store_json.dumps(findings_values(findings)))
    assert findings_from_values(rows) == [finding_from_values(v) for v in rows] == findings
    with pytest.raises(ValueError):
        findings_from_values([rows[0][:-1]])  # a record of another shape
