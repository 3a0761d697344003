"""Which files checkov's graph (CKV2) checks must see again after some files changed.

A graph check's verdict on an object depends on that object and the objects it connects to, and only on
vertices of the kinds the check names (:func:`slm_deploy.gate.scan.graph_check_kinds`). From the loaded
checks' own definitions this module derives:

* **groups**: kinds linked by any check (union-find over each check's resource and connected kinds; a
  Deployment-like kind counts as ``Pod``, whose vertex checkov splits out of it). Files of different groups
  never influence each other's graph results;
* per group, its **hub kinds**: the connected side of its connection conditions (``NetworkPolicy`` for
  CKV2_K8S_6). A group is *spoke-local* when no check of it reports on a hub kind and no hub kind sits on
  the resource side of a connection: then a spoke object's (a Pod's, a Deployment's) results depend only
  on itself and the group's hubs.

:func:`file_keys` turns that into one cache key per file: in a spoke-local group a spoke's key covers its
own bytes and the hub files that can be connected to it (given ``edges``, from :mod:`slm_deploy.gate.graph_edges`;
without it every hub file of the group); a hub's key covers its own bytes (no check reports on a hub, so its
results are empty); every other file's key covers every file of its group. So a changed or added Deployment
changes its own key only (re-judged against every NetworkPolicy that can select it), a removed one no other
key, a changed, added or removed NetworkPolicy its own key and the keys of the pods it can select before or
after the change (their set of connected hubs changed), and a change in another group changes nothing here.
:func:`scan_set` says which files the re-run must load for the files whose keys missed.
tests/gate/test_graph_partition.py checks that a cross-object finding appears and disappears when only one
object changes, against a full scan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

__all__ = ["graph_groups", "file_keys", "scan_set", "POD"]

POD = "Pod"


def _kinds(check: Any) -> tuple[set[str], set[str], list[tuple[set[str], set[str]]]]:
    """(every kind, top resource kinds, [(resource kinds, connected kinds)] of each connection) of a check."""
    every: set[str] = set()
    connections: list[tuple[set[str], set[str]]] = []

    def walk(node: Any) -> None:
        rt = set(getattr(node, "resource_types", None) or [])
        ct = set(getattr(node, "connected_resources_types", None) or [])
        every.update(rt | ct)
        if ct:
            connections.append((rt, ct))
        for sub in getattr(node, "sub_checks", None) or []:
            walk(sub)

    walk(check)
    return every, set(getattr(check, "resource_types", None) or []), connections


def graph_groups(checks: list[Any], pod_kinds: set[str]) -> list[dict[str, Any]] | None:
    """``[{"kinds": [...], "hubs": [...] or None}]`` for the loaded graph checks (None: a check sees any kind).

    ``hubs`` None: the group is not spoke-local, any change in it re-judges all of it.
    """
    def canon(kinds: set[str]) -> set[str]:
        return {POD if k in pod_kinds else k for k in kinds}

    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    shapes = []
    for check in checks:
        every, top, connections = _kinds(check)
        if not top or "all" in every:
            return None
        every, top = canon(every), canon(top)
        connections = [(canon(rt), canon(ct)) for rt, ct in connections]
        shapes.append((every, top, connections))
        first = next(iter(every))
        for k in every:
            parent[find(k)] = find(first)
    groups: dict[str, dict[str, Any]] = {}
    for every, top, connections in shapes:
        group = groups.setdefault(find(next(iter(every))), {"kinds": set(), "hubs": set(), "local": True, "shapes": []})
        group["kinds"] |= every
        group["shapes"].append((top, connections))
        for _, ct in connections:
            group["hubs"] |= ct
    out = []
    for group in groups.values():
        hubs = group["hubs"]
        local = bool(hubs) and all(not (top & hubs) and all(not (rt & hubs) for rt, _ in connections)
                                   for top, connections in group["shapes"])
        out.append({"kinds": sorted(group["kinds"]), "hubs": sorted(hubs) if local else None})
    return sorted(out, key=lambda g: g["kinds"])


def _digest(parts: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for rel, key in sorted(parts):
        h.update(f"{rel}\0{key}\0".encode())
    return h.hexdigest()


def _membership(kind: str | None, pod_kinds: set[str]) -> str | None:
    return POD if kind in pod_kinds else kind


def file_keys(files: dict[str, tuple[str | None, str]], groups: list[dict[str, Any]] | None,
              pod_kinds: set[str],
              edges: Callable[[list[str]], Callable[[str], list[str]]] | None = None) -> dict[str, tuple[str, str]]:
    """``rel -> (graph cache key, group id)`` for the graph subset. ``files``: ``rel -> (kind, content key)``.

    ``edges(hub_rels)``: for a spoke-local group's hub files, a function giving the hubs among them that can be
    connected to one spoke file (a superset of checkov's edges); None: every hub counts for every spoke.
    Without groups, or with a file of unknown kind, everything is one group keyed on every file.
    """
    by_kind: dict[str, int] = {}
    for n, group in enumerate(groups or []):
        for kind in group["kinds"]:
            by_kind[kind] = n
    members: dict[int, list[str]] = {}
    for rel, (kind, _) in files.items():
        n = by_kind.get(_membership(kind, pod_kinds)) if groups is not None else None
        if n is None:  # unknown kind or no groups: one group of everything
            everything = _digest([(r, k) for r, (_, k) in files.items()])
            return {r: (hashlib.sha256(f"{k}\0{everything}".encode()).hexdigest(), "all") for r, (_, k) in files.items()}
        members.setdefault(n, []).append(rel)
    keys: dict[str, tuple[str, str]] = {}
    for n, rels in members.items():
        if groups[n]["hubs"] is None:  # not spoke-local: every file's results may depend on every file
            context = f"group:{_digest([(r, files[r][1]) for r in rels])}"
            for rel in rels:
                keys[rel] = (hashlib.sha256(f"{files[rel][1]}\0{context}".encode()).hexdigest(), f"{n}")
            continue
        # Spoke-local: no check reports on a hub, and a spoke's results depend on itself and the hubs connected
        # to it only; so adding, changing or removing a spoke changes no other file's key, and a hub changes
        # only its own key and those of the spokes it can be connected to (now or before: their hub set moved).
        hubs = set(groups[n]["hubs"])
        hub_rels = sorted(r for r in rels if _membership(files[r][0], pod_kinds) in hubs)
        hub_set = set(hub_rels)
        connected = edges(hub_rels) if edges is not None else None
        every_hub = None
        for rel in rels:
            if rel in hub_set:
                context = "hub"
            elif connected is not None:
                context = f"edges:{_digest([(r, files[r][1]) for r in connected(rel)])}"
            else:
                every_hub = every_hub or _digest([(r, files[r][1]) for r in hub_rels])
                context = f"hubs:{every_hub}"
            keys[rel] = (hashlib.sha256(f"{files[rel][1]}\0{context}".encode()).hexdigest(), f"{n}")
    return keys


def scan_set(missing: list[str], files: dict[str, tuple[str | None, str]], groups: list[dict[str, Any]] | None,
             keys: dict[str, tuple[str, str]], pod_kinds: set[str],
             may_connect: Callable[[str, list[str]], bool] | None = None) -> list[str]:
    """The files a graph re-run must load so that every ``missing`` file's results are exact: per spoke-local group
    with a missing file, its missing files plus the hubs that may be connected to its missing spokes; per other
    group with a missing file, all of the group.

    ``may_connect(hub, spokes)``: False when the hub file can have no edge to any of the missing spoke files
    (:mod:`slm_deploy.gate.graph_edges`); such a hub cannot change their results and is left out (None: every hub
    is kept). A missing hub is loaded for its own (empty: no check of a spoke-local group reports on a hub)
    results; the spokes it can be connected to have missing keys themselves (:func:`file_keys`). Only the missing
    files' results are kept from such a run."""
    by_group: dict[str, list[str]] = {}
    for rel, (_, group) in keys.items():
        by_group.setdefault(group, []).append(rel)
    missing_set, wanted = set(missing), set()
    for group, rels in by_group.items():
        gone = [r for r in rels if r in missing_set]
        if not gone:
            continue
        hubs = set(groups[int(group)]["hubs"] or []) if group != "all" and groups is not None else None
        if hubs:
            spokes = [r for r in gone if _membership(files[r][0], pod_kinds) not in hubs]
            wanted |= set(gone)
            if spokes:
                wanted |= {r for r in rels if _membership(files[r][0], pod_kinds) in hubs
                           and (may_connect is None or may_connect(r, spokes))}
        else:
            wanted |= set(rels)
    return sorted(wanted)


def split_by_file(out: Any, rels: list[str]) -> dict[str, dict[str, list]]:
    """One graph scan's results per file (every file gets an entry, maybe empty) as lists of findings."""
    by_file: dict[str, dict[str, list]] = {r: {"passed": [], "failed": [], "skipped": []} for r in rels}
    for attr in ("passed", "failed", "skipped"):
        for finding in getattr(out, attr):
            by_file.setdefault(finding.file, {"passed": [], "failed": [], "skipped": []})[attr].append(finding)
    return by_file
