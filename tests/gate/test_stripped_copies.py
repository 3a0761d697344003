"""The manifest-set rules get their input from ``Plan.stripped_copies`` (slm_deploy/gate/incremental.py): for every
parsed manifest what ``strip_meta`` gives (same values and types, key order, fresh containers), whether the object
came from the per-object store's JSON or was parsed now, with ``__`` keys at any depth, values JSON cannot carry
(dates, non-string keys) and look-alikes of other types (``1`` / ``1.0`` / ``true``); and the rules' findings on them
with ``copies=True`` are the findings of the plain call on the parsed objects."""
from __future__ import annotations



from gate_helpers import PLAIN_DEPLOYMENT, copy_build, write_build
from policies.rules._k8s import strip_meta
from policies.rules.manifest_set import check_manifest_set
from slm_deploy.gate.incremental import lookup
from slm_deploy.gate.object_cache import ObjectStore

ODD = {
    "demo.configmap.dunder.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dunder\n  namespace: demo\n"
                                  "  annotations:\n    __startline__: '3'\n    keep: x\ndata:\n  nested: '{}'\n"
                                  "spec:\n  list:\n  - __endline__: 4\n    y: 1\n",
    "demo.configmap.value.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: value\n  namespace: demo\n"
                                 "data:\n  text: '\"__ in a value'\n",
    "demo.configmap.date.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: date\n  namespace: demo\n"
                                "data:\n  when: 2026-12-01\n",
    "demo.configmap.keys.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keys\n  namespace: demo\n"
                                "data:\n  1: one\n  true: yes\n",
    "demo.configmap.types.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: types\n  namespace: demo\n"
                                 "spec:\n  a: 1\n  b: 1.0\n  c: true\n  d: null\n  e: [1, 1.0, false, '1']\n",
    "demo.list.yaml": "- not\n- a mapping\n",
}


def _typed(value):
    """A value with every scalar's type spelled out (``==`` alone says 1 == 1.0 == True)."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _plan(root, store):
    manifests = sorted((root / "manifests").glob("*.yaml"))
    return lookup(store, root, manifests, [])


def test_copies_are_what_strip_meta_gives(tmp_path, built):
    odd = write_build(tmp_path / "odd", [PLAIN_DEPLOYMENT])
    for name, text in ODD.items():
        (odd / "manifests" / name).write_text(text)
    for root in (odd, copy_build(built("prod").out_dir, tmp_path / "prod")):
        store = ObjectStore("s", "fp", tmp_path / f"cache-{root.name}")
        for run in ("parsed now", "from the store"):
            plan = _plan(root, store)
            parsed = plan.parse_manifests()
            copies = plan.stripped_copies(parsed)
            expected = [strip_meta(o) for o in parsed.values() if isinstance(o, dict)]
            assert [_typed(c) for c in copies] == [_typed(e) for e in expected], run
            originals = [o for o in parsed.values() if isinstance(o, dict)]
            assert all(c is not o for c, o in zip(copies, originals))
            assert check_manifest_set(plan.stripped_copies(parsed), copies=True) == check_manifest_set(
                list(parsed.values()))
            store.save()
            store = ObjectStore("s", "fp", tmp_path / f"cache-{root.name}")
    dunder = next(c for c in _plan(odd, ObjectStore("s", "fp", None)).stripped_copies(
        _plan(odd, ObjectStore("s", "fp", None)).parse_manifests()) if c["metadata"]["name"] == "dunder")
    assert dunder["metadata"]["annotations"] == {"keep": "x"} and dunder["spec"]["list"] == [{"y": 1}]


def test_a_copy_is_private(tmp_path):
    root = write_build(tmp_path / "b", [PLAIN_DEPLOYMENT])
    plan = _plan(root, ObjectStore("s", "fp", None))
    parsed = plan.parse_manifests()
    first = plan.stripped_copies(parsed)
    first[0]["spec"]["selector"]["matchLabels"]["app"] = "changed"
    assert plan.stripped_copies(parsed)[0]["spec"]["selector"]["matchLabels"]["app"] == "plain"
    assert next(iter(parsed.values()))["spec"]["selector"]["matchLabels"]["app"] == "plain"
