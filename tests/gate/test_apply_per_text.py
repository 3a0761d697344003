"""Apply-validity answers each distinct text once per process (``apply_validity._per_text``): the same results as
calling components/validation.py's predicates every time, on the reference stacks' objects and on generated
labels, names and selectors holding bad keys and values, non-text values and unhashable ones."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components import validation
from slm_deploy.gate import apply_validity

PREDICATES = ("label_key_problem", "label_value_problem", "dns_label_problem", "dns_subdomain_problem")


def _plain(objects):
    with pytest.MonkeyPatch.context() as mp:
        for name in PREDICATES:
            mp.setattr(apply_validity, name, getattr(validation, name))
        return apply_validity.check_kubernetes(objects)


def _objects(out_dir: Path):
    return [(p.name, yaml.safe_load(p.read_text())) for p in sorted((out_dir / "manifests").glob("*.yaml"))]


def test_reference_stacks_judged_alike(built):
    for stack in ("prod", "dev", "edge"):
        objects = _objects(built(stack).out_dir)
        assert apply_validity.check_kubernetes(objects) == _plain(objects)
        assert apply_validity.check_kubernetes(objects) == _plain(objects)  # answered from the memo the 2nd time


_TEXT = st.sampled_from(["app", "app.kubernetes.io/name", "a b", "-x", "x" * 64, "UPPER", "ok.example.com/x", "/x",
                         "a/b/c", "", "é", "v1.2", "a..b", "..", "x" * 254])
_VALUE = st.one_of(_TEXT, st.integers(-3, 3), st.none(), st.booleans(), st.lists(_TEXT, max_size=2),
                   st.dictionaries(_TEXT, _TEXT, max_size=2))


@settings(max_examples=150, deadline=None)
@given(labels=st.dictionaries(_TEXT, _VALUE, max_size=4), name=_VALUE, namespace=_VALUE, port_name=_VALUE,
       kind=st.sampled_from(["Deployment", "Service", "NetworkPolicy", "Role", "ConfigMap", "Namespace"]))
def test_generated_objects_judged_alike(labels, name, namespace, port_name, kind):
    template = {"metadata": {"labels": labels, "annotations": labels},
                "spec": {"nodeSelector": labels, "containers": [{"name": "c", "ports": [{"name": port_name}]}],
                         "volumes": [{"name": name}]}}
    obj = {"kind": kind, "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": {"selector": {"matchLabels": labels, "matchExpressions": [{"key": name, "values": [name]}]},
                    "podSelector": {"matchLabels": labels}, "template": template,
                    "ports": [{"name": port_name, "port": 80}],
                    "ingress": [{"from": [{"podSelector": {"matchLabels": labels}}]}]}}
    objects = [("a.yaml", obj)]
    try:
        expected = _plain(objects)
    except TypeError as exc:  # the plain predicates refuse it: so must the memo
        with pytest.raises(type(exc)):
            apply_validity.check_kubernetes(objects)
        return
    assert apply_validity.check_kubernetes(objects) == expected
