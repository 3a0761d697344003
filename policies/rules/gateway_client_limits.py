"""CKV_SLM_032: every named client of a key-checking proxy has a request-rate and a concurrency limit.

Judged on the proxy's nginx configuration as nginx reads it (``policies.rules._nginx``), in a ConfigMap
(Kubernetes, through checkov) or in a compose service's configs (Docker: the Docker twin
``policies/compose/checks/proxy_client_limits.py``, same id, reads the generated ``files/<component>/nginx.conf``
the compose export mounts, or an inline config). The proxy names the caller into a client variable
(``js_set $V <module>.client``, or ``map $http_authorization $V``); the clients are the names the
configuration maps from that variable (``map $V $X { "<client>" ...; }``). For every client and every
location that serves inference (``js_content <module>.route``, or a ``proxy_pass`` outside named and
health locations), nginx must apply, in that location or inherited from its server/http block:

* a ``limit_req`` whose zone is keyed by the client variable, or by a variable mapped from it that is
  not empty for that client (nginx never limits an empty key), with a positive ``rate``;
* a ``limit_conn`` on such a zone with a positive number.

A proxy whose client names live only in a Secret (the single-key auth proxy) names no client here and
is not applicable.
"""
from __future__ import annotations

import dataclasses
import re

from policies.rules._nginx import Directive, looks_like_nginx, parse, walk
from policies.rules._types import NA, CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_032",
    name="Ensure every named client of the gateway or auth proxy has a requests-per-minute and a concurrency limit",
    severity="HIGH",
    rationale=(
        "One client without limits can take every replica of every model: the others queue behind it and "
        "the GPUs bill for it. The proxy keys one limit_req zone (rate) and one limit_conn zone (requests in "
        "flight) by the client name; a client whose name maps to an empty key, or a location that inference "
        "reaches without the limit directives, is unlimited, because nginx never limits an empty key."
    ),
    reference="https://nginx.org/en/docs/http/ngx_http_limit_req_module.html#limit_req_zone",
    framework="kubernetes",
    kinds=("ConfigMap",),
)

COMPOSE_META = dataclasses.replace(META, framework="compose", kinds=())
"""The Docker twin's metadata: the same check, judged on compose services' nginx configs."""

_RATE = re.compile(r"^rate=(\d+)r/[sm]$")
_HEALTH = re.compile(r"health|ready|live", re.I)


def _client_variables(conf: list[Directive]) -> set[str]:
    found = set()
    for d in walk(conf):
        if d.name == "js_set" and len(d.args) >= 2 and d.args[1].endswith(".client"):
            found.add(d.args[0])
        if d.name == "map" and len(d.args) == 2 and d.args[0] == "$http_authorization":
            found.add(d.args[1])
    return found


def _maps(conf: list[Directive]) -> dict[str, tuple[str, dict[str, str], str]]:
    """target variable -> (source, {key: value}, default)."""
    out = {}
    for d in walk(conf):
        if d.name == "map" and len(d.args) == 2 and d.block is not None:
            entries = {e.name: (e.args[0] if e.args else "") for e in d.block if e.name not in ("include", "hostnames", "volatile")}
            default = entries.pop("default", "")
            out[d.args[1]] = (d.args[0], entries, default)
    return out


def _client_names(client_vars: set[str], maps: dict) -> list[str]:
    names: list[str] = []
    for source, entries, _ in maps.values():
        if source in client_vars:
            names += [k for k in entries if k not in names]
    return names


def _keyed_for(key: str, client: str, client_vars: set[str], maps: dict) -> bool:
    """Does a zone keyed by ``key`` give ``client`` a non-empty key?"""
    if key in client_vars:
        return True
    source, entries, default = maps.get(key, ("", {}, ""))
    return source in client_vars and entries.get(client, default) != ""


def _zones(conf: list[Directive], directive: str) -> dict[str, tuple[str, bool]]:
    """zone name -> (key variable, has a positive rate) for limit_req_zone / limit_conn_zone."""
    zones = {}
    for d in walk(conf):
        if d.name == directive and len(d.args) >= 2:
            zone = next((a[5:].split(":")[0] for a in d.args if a.startswith("zone=")), None)
            rate = next((_RATE.match(a) for a in d.args if a.startswith("rate=")), None)
            if zone:
                zones[zone] = (d.args[0], directive == "limit_conn_zone" or bool(rate and int(rate.group(1)) > 0))
    return zones


def _serving_locations(conf: list[Directive]) -> list[tuple[Directive, list[list[Directive]]]]:
    """(location, enclosing blocks innermost first) for every location inference reaches."""
    found = []

    def visit(block: list[Directive], outer: list[list[Directive]]) -> None:
        for d in block:
            if d.block is None:
                continue
            if d.name == "location":
                target = d.args[-1] if d.args else ""
                inner = {x.name: x for x in d.block if x.block is None}
                routes = "js_content" in inner and inner["js_content"].args[:1] and inner["js_content"].args[0].endswith(".route")
                proxies = "proxy_pass" in inner and not target.startswith("@") and not _HEALTH.search(target)
                if routes or proxies:
                    found.append((d, [d.block] + outer))
            visit(d.block, [d.block] + outer)

    visit(conf, [])
    return found


def _effective(levels: list[list[Directive]], name: str) -> list[Directive]:
    """nginx inheritance of array directives: the innermost level that sets any wins."""
    for level in levels:
        here = [d for d in level if d.name == name and d.block is None]
        if here:
            return here
    return []


def evaluate_config(text: str) -> Result:
    conf = parse(text)
    client_vars = _client_variables(conf)
    maps = _maps(conf)
    clients = _client_names(client_vars, maps)
    if not clients:
        return NA
    req_zones, conn_zones = _zones(conf, "limit_req_zone"), _zones(conf, "limit_conn_zone")
    problems = []
    locations = _serving_locations(conf)
    if not locations:
        return NA
    for location, levels in locations:
        where = " ".join(location.args)
        reqs = [next((a[5:] for a in d.args if a.startswith("zone=")), "") for d in _effective(levels, "limit_req")]
        conns = [(d.args[0], d.args[1] if len(d.args) > 1 else "0") for d in _effective(levels, "limit_conn")]
        for client in clients:
            if not any(z in req_zones and req_zones[z][1] and _keyed_for(req_zones[z][0], client, client_vars, maps)
                       for z in reqs):
                problems.append(f"client {client!r} has no requests-per-minute limit (limit_req keyed by client) on location {where}")
            if not any(z in conn_zones and n.isdigit() and int(n) > 0
                       and _keyed_for(conn_zones[z][0], client, client_vars, maps) for z, n in conns):
                problems.append(f"client {client!r} has no concurrency limit (limit_conn keyed by client) on location {where}")
    return Result.judge(True, problems)


def evaluate_texts(texts: list[str]) -> Result:
    """The verdict over every nginx configuration among ``texts`` (others are ignored)."""
    results = [evaluate_config(t) for t in texts if isinstance(t, str) and looks_like_nginx(t)]
    problems = [p for r in results for p in r.reasons]
    applicable = any(r.status.value != "NOT_APPLICABLE" for r in results)
    return Result.judge(applicable, problems) if applicable or problems else NA


def evaluate(obj: dict) -> Result:
    if obj.get("kind") != "ConfigMap":
        return NA
    data = obj.get("data")
    return evaluate_texts(list(data.values())) if isinstance(data, dict) else NA
