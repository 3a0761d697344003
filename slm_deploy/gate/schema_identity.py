"""When two Kubernetes versions' strict schemas judge an object alike, so it is validated once for both.

The gate validates every manifest on the oldest and the newest supported Kubernetes. Most kinds' schemas are the
same in both apart from what jsonschema never reads (``description``, the ``x-kubernetes-*`` annotations), and the
kinds that did change (PodSpec gained fields between 1.29 and 1.33) differ only in places an object may not use.
:class:`SchemaPair` answers, for one pair of kubernetes-validate schema directories, whether validating an
object under version B would take exactly the steps it takes under version A; then B's outcome is A's, message
included, and ``validate_objects`` validates once.

What "the same steps" means follows jsonschema's Draft 2020-12 validator (the one ``schema_validation`` builds):
it visits a schema's keywords in the schema's key order, ignores keys that are not keywords, and only ``not`` and
``oneOf`` quote their subschemas in an error message. So two schema nodes are compared:

- **canonically, in key order** (:meth:`SchemaPair.same`): the node without ``description`` and
  ``x-kubernetes-*`` keys in schema positions (kept verbatim under ``not``/``oneOf``), as JSON with the file's key
  order (the first error depends on it), and every definition it ``$ref``\\ s, transitively, the same in both
  versions (:meth:`SchemaPair.definition_same`). A kind whose whole reachable schema is the same
  (:meth:`SchemaPair.kind_same`, cached per kind) is validated once for every object;
- **along the object** (:meth:`SchemaPair.equivalent`), for a kind whose schema changed: ``properties`` is
  followed only into the keys the object has (jsonschema descends only into those, and ``additionalProperties``
  reads only whether the object's keys are declared), ``items`` into each element, ``$ref`` into its definition;
  every other keyword must be canonically the same. An object that uses a field only one version declares is
  therefore validated under both.

Anything this module cannot prove (``$dynamicRef``, ``$anchor``, ``unevaluated*``, ``prefixItems``, an ``$id``
below the root, a reference it cannot resolve) counts as "different": that object is validated under each version,
as before. tests/gate/test_schema_identity.py checks the result against validating under every version.
"""

from __future__ import annotations

import json

__all__ = ["SchemaPair"]

_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_SCHEMA_VALUES = frozenset({"items", "additionalProperties", "contains", "propertyNames", "if", "then", "else",
                            "additionalItems", "unevaluatedItems", "unevaluatedProperties"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "prefixItems"})
_QUOTED = frozenset({"not", "oneOf"})
"""Keywords whose error messages quote their subschemas (``should not be valid under {...}``,
``is valid under each of {...}``): compared verbatim, annotations included."""
_UNPROVABLE = frozenset({"$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "$anchor",
                         "unevaluatedItems", "unevaluatedProperties", "prefixItems"})
"""Keywords whose effect depends on more than the node and its references; a schema using one is never "the same"."""

_DEFS = "_definitions.json"
_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
_DEF_POINTER = "#/$defs/"
_K8S_BASE = "https://kubernetes.io/"


class Unprovable(Exception):
    """A schema this module cannot compare (see the module docstring); treated as "different"."""


def _annotation(key: str) -> bool:
    return key == "description" or key.startswith("x-kubernetes-")


class _Context:
    """Where a schema node lives, for resolving its ``$ref``\\ s the way the validator's registry does: in
    ``_definitions.json`` (base ``https://kubernetes.io/api/_definitions.json``), or in a kind's document
    (base: its ``$id``, a kubernetes.io URI for kubernetes-validate's files, none for a vendored CRD)."""

    __slots__ = ("in_definitions", "k8s_base")

    def __init__(self, in_definitions: bool, k8s_base: bool) -> None:
        self.in_definitions = in_definitions
        self.k8s_base = k8s_base

    def definition(self, ref: object) -> str:
        """The ``$defs`` name ``ref`` points at in ``_definitions.json``."""
        if not isinstance(ref, str):
            raise Unprovable(ref)
        uri, sep, pointer = ref.partition("#")
        if not sep or not ("#" + pointer).startswith(_DEF_POINTER):
            raise Unprovable(ref)
        if not (uri == _DEFS_URI or (uri == "/api/" + _DEFS and (self.in_definitions or self.k8s_base))
                or (uri == "" and self.in_definitions)):
            raise Unprovable(ref)
        name = pointer[len(_DEF_POINTER) - 1:]
        if not name or any(c in name for c in "/~%"):
            raise Unprovable(ref)
        return name


_IN_DEFINITIONS = _Context(True, True)


def document_context(doc: object) -> _Context:
    """The context of a kind's root schema document."""
    base = doc.get("$id", "") if isinstance(doc, dict) else ""
    return _Context(False, isinstance(base, str) and base.startswith(_K8S_BASE))


class SchemaPair:
    """Two versions' ``_definitions.json`` ``$defs`` (A, B): which schemas and objects they judge alike."""

    def __init__(self, definitions_a: dict, definitions_b: dict) -> None:
        self._defs = (definitions_a, definitions_b)
        self._canon_cache: tuple[dict[str, tuple[str, frozenset[str]] | None], ...] = ({}, {})
        self._same_definition: dict[str, bool] = {}
        self._kind_same: dict[object, bool] = {}
        self._plans: dict[tuple, tuple[object, object, _Plan | bool]] = {}

    # ------------------------------------------------------------------ canonical comparison

    def _canon_definition(self, side: int, name: str) -> tuple[str, frozenset[str]] | None:
        cache = self._canon_cache[side]
        if name not in cache:
            node = self._defs[side].get(name)
            try:
                cache[name] = None if node is None else canonical(node, _IN_DEFINITIONS, root=False)
            except Unprovable:
                cache[name] = None
        return cache[name]

    def definition_same(self, name: str) -> bool:
        """Whether ``$defs[name]`` and everything it references, transitively, are canonically the same in A and B."""
        known = self._same_definition.get(name)
        if known is not None:
            return known
        seen, todo, same = {name}, [name], True
        while todo and same:
            current = todo.pop()
            a, b = self._canon_definition(0, current), self._canon_definition(1, current)
            if a is None or b is None or a[0] != b[0]:
                same = False
                break
            for ref in a[1]:
                if self._same_definition.get(ref) is False:
                    same = False
                    break
                if ref not in seen and ref not in self._same_definition:
                    seen.add(ref)
                    todo.append(ref)
        if same:  # every definition reachable from ``name`` was compared and found the same
            for each in seen:
                self._same_definition[each] = True
        else:
            self._same_definition[name] = False
        return same

    def same(self, a: object, b: object, context: _Context, *, root: bool = False) -> bool:
        """Whether schema nodes ``a`` (in A) and ``b`` (in B) validate every instance alike, messages included."""
        try:
            ca, cb = canonical(a, context, root=root), canonical(b, context, root=root)
        except Unprovable:
            return False
        return ca[0] == cb[0] and all(self.definition_same(ref) for ref in ca[1])

    def kind_same(self, key: object, doc_a: dict, doc_b: dict) -> bool:
        """:meth:`same` for a kind's root documents, cached per ``key`` (the kind and its apiVersion)."""
        known = self._kind_same.get(key)
        if known is None:
            known = self._kind_same[key] = self.same(doc_a, doc_b, document_context(doc_a), root=True)
        return known

    # ------------------------------------------------------------------ along one object

    def equivalent(self, key: object, doc_a: dict, doc_b: dict, instance: object) -> bool:
        """Whether validating ``instance`` against ``doc_a`` (version A) and ``doc_b`` (version B) takes the same
        steps and so raises the same first error, or none in both."""
        if self.kind_same(key, doc_a, doc_b):
            return True
        context = document_context(doc_a)
        if context.k8s_base != document_context(doc_b).k8s_base:
            return False
        return self._walk(doc_a, doc_b, instance, context, set(), root=True)

    def _walk(self, a: object, b: object, instance: object, context: _Context, active: set, *, root: bool = False) -> bool:
        plan = self._plan(a, b, context, root)
        if plan is True or plan is False:
            return plan
        if plan.properties is not None:
            if isinstance(instance, dict):
                if plan.declared_once and not plan.declared_once.isdisjoint(instance):
                    return False  # a key only one version declares: ``properties``/``additionalProperties`` differ
                for name, sub_a, sub_b in plan.properties:
                    if name in instance and not self._walk(sub_a, sub_b, instance[name], context, active):
                        return False
            elif not plan.properties_same:
                return False
        if plan.items is not None:
            if isinstance(instance, list):
                for element in instance:
                    if not self._walk(plan.items[0], plan.items[1], element, context, active):
                        return False
            else:  # jsonschema skips ``items`` on a non-array; not worth proving
                return False
        if plan.ref is not None:
            marker = (plan.ref, id(instance))
            if marker in active:  # a reference cycle without descending into the object
                return False
            active.add(marker)
            try:
                return self._walk(self._defs[0][plan.ref], self._defs[1][plan.ref], instance, _IN_DEFINITIONS, active)
            finally:
                active.discard(marker)
        return True

    def _plan(self, a: object, b: object, context: _Context, root: bool) -> "_Plan | bool":
        """What validating one instance against ``a`` and ``b`` can differ in, compiled once per pair of nodes
        (kept with the nodes, so their ids stay theirs)."""
        memo_key = (id(a), id(b), context.in_definitions, context.k8s_base, root)
        known = self._plans.get(memo_key)
        if known is None:
            known = (a, b, _compile(self, a, b, context, root))
            self._plans[memo_key] = known
        return known[2]

    def _keyword_same(self, key: str, va: object, vb: object, context: _Context, root: bool) -> bool:
        try:
            ca, cb = _canonical_keyword(key, va, context, root), _canonical_keyword(key, vb, context, root)
        except Unprovable:
            return False
        return ca[0] == cb[0] and all(self.definition_same(ref) for ref in ca[1])


class _Plan:
    """The parts of two schema nodes a walk must follow along an instance (the rest is the same in both)."""

    __slots__ = ("properties", "declared_once", "properties_same", "items", "ref")

    def __init__(self) -> None:
        self.properties: list[tuple[str, object, object]] | None = None
        """Properties both declare whose schemas differ; None: ``properties`` is the same in both."""
        self.declared_once: frozenset[str] = frozenset()
        self.properties_same = True
        self.items: tuple[object, object] | None = None
        self.ref: str | None = None


def _compile(pair: SchemaPair, a: object, b: object, context: _Context, root: bool) -> _Plan | bool:
    """True: ``a`` and ``b`` validate every instance alike; False: they may not, whatever the instance; else the
    :class:`_Plan` of what to follow."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return pair.same(a, b, context, root=root)
    if pair.same(a, b, context, root=root):
        return True
    keys = [k for k in a if not _annotation(k)]
    if keys != [k for k in b if not _annotation(k)] or any(k in _UNPROVABLE for k in keys):
        return False
    plan = _Plan()
    for key in keys:
        va, vb = a[key], b[key]
        if key == "properties" and isinstance(va, dict) and isinstance(vb, dict):
            common_a = [p for p in va if p in vb]
            if common_a != [p for p in vb if p in va]:
                return False  # jsonschema visits properties in the schema's order: the first error could differ
            plan.declared_once = frozenset(va.keys() ^ vb.keys())
            plan.properties = [(p, va[p], vb[p]) for p in common_a if not pair.same(va[p], vb[p], context)]
            plan.properties_same = pair._keyword_same(key, va, vb, context, root)
        elif key == "items" and isinstance(va, dict) and isinstance(vb, dict):
            if not pair.same(va, vb, context):
                plan.items = (va, vb)
        elif key == "$ref":
            if va != vb:
                return False
            try:
                name = context.definition(va)
            except Unprovable:
                return False
            if name not in pair._defs[0] or name not in pair._defs[1]:
                return False
            if not pair.definition_same(name):
                plan.ref = name
        elif not pair._keyword_same(key, va, vb, context, root):
            return False
    return plan


def canonical(node: object, context: _Context, *, root: bool) -> tuple[str, frozenset[str]]:
    """A schema node's canonical form (JSON in key order, annotations dropped where jsonschema never reads or
    quotes them) and the ``$defs`` names it references; raises :class:`Unprovable`."""
    refs: set[str] = set()
    projected = _project(node, context, refs, verbatim=False, root=root)
    return json.dumps(projected, ensure_ascii=False, allow_nan=True), frozenset(refs)


def _canonical_keyword(key: str, value: object, context: _Context, root: bool) -> tuple[str, frozenset[str]]:
    refs: set[str] = set()
    projected = _project({key: value}, context, refs, verbatim=False, root=root)
    return json.dumps(projected, ensure_ascii=False, allow_nan=True), frozenset(refs)


def _project(node: object, context: _Context, refs: set[str], *, verbatim: bool, root: bool = False) -> object:
    """The schema node with annotations dropped (kept when ``verbatim``), its references collected."""
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if key in _UNPROVABLE or (key == "$id" and not root):
            raise Unprovable(key)
        if not verbatim and _annotation(key):
            continue
        keep = verbatim or key in _QUOTED
        if key == "$ref":
            refs.add(context.definition(value))
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _project(sub, context, refs, verbatim=keep) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES or key == "not":
            out[key] = _project(value, context, refs, verbatim=keep)
        elif (key in _SCHEMA_LISTS or key == "oneOf") and isinstance(value, list):
            out[key] = [_project(sub, context, refs, verbatim=keep) for sub in value]
        else:  # data: enum, const, type, required, pattern, format, ... compared exactly
            out[key] = value
    return out
