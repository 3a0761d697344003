"""Apply-validity: the rules the Kubernetes API server (and Docker Compose) enforce that JSON schema cannot.

kubernetes-validate proves every field exists and has the right JSON type. The API server refuses more:
a label value with a space, ``30 GB`` as a quantity, two ports with one name, a volumeMount of a volume
nobody declared. Config types refuse such values at load (components/validation.py); this stage runs the
*same* predicates over every rendered object, so a value that reached a manifest through a field somebody
forgot to type still fails the gate instead of ``pulumi up``. Each rule is a gate check with its own id
(``SLM_APPLY_*``) and a finding per object, in every report.

References: an object the stack renders, or a documented external one: :data:`EXTERNAL_OBJECTS` (what
Kubernetes itself publishes in every namespace) and Secrets the user creates, which the component that
mounts them declares on the pod template in the :data:`EXTERNAL_SECRETS_ANNOTATION` annotation (claims the user
fills, e.g. ``source.prefilledClaim``: :data:`EXTERNAL_CLAIMS_ANNOTATION`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from components import validation
from components.validation import env_name_problem, parse_quantity, port_name_problem, quantity_problem

from components.base import EXTERNAL_CLAIMS_ANNOTATION, EXTERNAL_SECRETS_ANNOTATION
from slm_deploy.gate.apply_checks import APPLY_CHECKS
from slm_deploy.gate.result import Finding

__all__ = ["APPLY_CHECKS", "EXTERNAL_OBJECTS", "EXTERNAL_SECRETS_ANNOTATION", "OWN_CHECKS", "Result",
           "check_kubernetes", "check_compose", "apply_findings", "own_problems"]

EXTERNAL_OBJECTS: dict[tuple[str, str], str] = {
    ("ConfigMap", "kube-root-ca.crt"): "published by Kubernetes in every namespace (the cluster CA bundle)",
}
"""Objects every namespace has without the stack rendering them: (kind, name) -> why."""


_POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"), "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"), "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_LABEL_NAMED = {"Namespace", "Service"}
_PATH_SEGMENT_NAMED = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


@dataclass
class Result:
    """One check on one object (or compose service): no problems means passed."""

    check_id: str
    resource: str
    problems: list[str] = field(default_factory=list)
    kind: str = ""
    namespace: str = ""
    name: str = ""


# --------------------------------------------------------------------------- helpers

_UNSEEN = object()


def _per_text(predicate):
    """``predicate`` (one of components/validation.py's pure functions of one value) answering each distinct text
    once per process: a 100-service stack asks about ~13,000 label keys, values and names, a few hundred distinct.
    Any other type of value (None, numbers, ...) goes to the predicate every time."""
    known: dict[str, str | None] = {}

    def per_text(value):
        if type(value) is not str:
            return predicate(value)
        found = known.get(value, _UNSEEN)
        if found is _UNSEEN:
            found = known[value] = predicate(value)
        return found

    per_text.__doc__ = predicate.__doc__
    return per_text


label_key_problem = _per_text(validation.label_key_problem)
label_value_problem = _per_text(validation.label_value_problem)
dns_label_problem = _per_text(validation.dns_label_problem)
dns_subdomain_problem = _per_text(validation.dns_subdomain_problem)


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def pod_template(obj: dict) -> dict | None:
    """The pod template of a workload, or the Pod itself."""
    if obj.get("kind") == "Pod":
        return obj
    path = _POD_TEMPLATE_PATHS.get(obj.get("kind", ""))
    template = _get(obj, *path) if path else None
    return template if isinstance(template, dict) else None


def _containers(spec: dict) -> Iterator[tuple[str, dict]]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(group) or []:
            if isinstance(c, dict):
                yield f"{group}[{c.get('name')}]", c


def _labels_problems(where: str, labels: Any, values: bool = True) -> list[str]:
    out = []
    for key, value in (labels or {}).items() if isinstance(labels, dict) else []:
        if (problem := label_key_problem(str(key))):
            out.append(f"{where} key {key!r} {problem}")
        if values and (problem := label_value_problem(value if isinstance(value, str) else repr(value))):
            out.append(f"{where} {key}={value!r}: {problem}")
    return out


def _selector_problems(where: str, selector: Any) -> list[str]:
    if not isinstance(selector, dict):
        return []
    out = _labels_problems(f"{where}.matchLabels", selector.get("matchLabels"))
    for expr in selector.get("matchExpressions") or []:
        if (problem := label_key_problem(str(expr.get("key")))):
            out.append(f"{where}.matchExpressions key {expr.get('key')!r} {problem}")
        for value in expr.get("values") or []:
            if (problem := label_value_problem(str(value))):
                out.append(f"{where}.matchExpressions {expr.get('key')} value {value!r}: {problem}")
    return out


def _matches(selector: Any, labels: dict, *, plain: bool = False) -> bool:
    """LabelSelector (or a plain Service selector map when ``plain``) against pod labels."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector if plain else (selector.get("matchLabels") or {})
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in [] if plain else (selector.get("matchExpressions") or []):
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# --------------------------------------------------------------------------- Kubernetes rules


def _metadata(obj: dict, template: dict | None) -> list[str]:
    kind, meta = obj.get("kind", ""), obj.get("metadata") or {}
    name = meta.get("name")
    out = []
    if kind in _LABEL_NAMED:
        problem = dns_label_problem(name) if isinstance(name, str) else "is missing"
    elif kind in _PATH_SEGMENT_NAMED:
        problem = None if isinstance(name, str) and name not in (".", "..") and not set(name) & {"/", "%"} else \
            "must be a path segment name (no '/', '%', not '.' or '..')"
    else:
        problem = dns_subdomain_problem(name) if isinstance(name, str) else "is missing"
    if problem:
        out.append(f"metadata.name {name!r} {problem}")
    if meta.get("namespace") is not None and (problem := dns_label_problem(str(meta["namespace"]))):
        out.append(f"metadata.namespace {meta['namespace']!r} {problem}")
    out += _labels_problems("metadata.labels", meta.get("labels"))
    out += _labels_problems("metadata.annotations", meta.get("annotations"), values=False)
    if template is not None and template is not obj:
        out += _labels_problems("pod template labels", _get(template, "metadata", "labels"))
        out += _labels_problems("pod template annotations", _get(template, "metadata", "annotations"), values=False)
    spec = obj.get("spec") or {}
    for where, selector in (("spec.selector", spec.get("selector")), ("spec.podSelector", spec.get("podSelector"))):
        if kind == "Service":
            out += _labels_problems("spec.selector", spec.get("selector"))
            break
        out += _selector_problems(where, selector)
    for direction in ("ingress", "egress"):
        for i, rule in enumerate(spec.get(direction) or [] if kind == "NetworkPolicy" else []):
            for peer in (rule or {}).get("from" if direction == "ingress" else "to") or []:
                for sel in ("podSelector", "namespaceSelector"):
                    out += _selector_problems(f"spec.{direction}[{i}].{sel}", (peer or {}).get(sel))
    if template is not None:
        out += _labels_problems("nodeSelector", _get(template, "spec", "nodeSelector"))
    return out


def _quantities(obj: dict, template: dict | None) -> list[str] | None:
    out: list[str] = []
    checked = False
    if obj.get("kind") == "PersistentVolumeClaim":
        checked = True
        storage = _get(obj, "spec", "resources", "requests", "storage")
        if (problem := quantity_problem(storage if storage is not None else "", "storage")):
            out.append(f"spec.resources.requests.storage {storage!r} {problem}")
    if template is None:
        return out if checked else None
    spec = template.get("spec") or {}
    for where, c in _containers(spec):
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            for res, value in (resources.get(part) or {}).items():
                kind = {"cpu": "cpu", "memory": "memory", "ephemeral-storage": "storage"}.get(res)
                if kind:
                    problem = quantity_problem(value, kind)
                elif parse_quantity(value) is None or parse_quantity(value) != int(parse_quantity(value) or 0):
                    problem = "must be a whole number (extended resources are not divisible)"
                else:
                    problem = None
                if problem:
                    out.append(f"{where}.resources.{part}.{res} {value!r} {problem}")
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for res in set(requests) & set(limits):
            req, lim = parse_quantity(requests[res]), parse_quantity(limits[res])
            if req is not None and lim is not None and req > lim:
                out.append(f"{where}.resources: request {res}={requests[res]} is above its limit {limits[res]}")
            if "/" in res and not res.startswith("kubernetes.io/") and req != lim and req is not None:
                out.append(f"{where}.resources: extended resource {res} must have request equal to limit")
    for v in spec.get("volumes") or []:
        size = _get(v, "emptyDir", "sizeLimit")
        if size is not None and (problem := quantity_problem(size, "storage")):
            out.append(f"volume {v.get('name')} emptyDir.sizeLimit {size!r} {problem}")
    return out


def _port_value_problem(port: Any) -> str | None:
    if isinstance(port, bool):
        return "must be a port number or name"
    if isinstance(port, (int, float)):
        return None if 1 <= port <= 65535 and port == int(port) else "must be a port number from 1 to 65535"
    if isinstance(port, str):
        return port_name_problem(port)
    return "must be a port number or name"


def _ports(obj: dict, template: dict | None) -> list[str] | None:
    out: list[str] = []
    if obj.get("kind") == "Service":
        ports = _get(obj, "spec", "ports") or []
        names = [p.get("name") for p in ports if isinstance(p, dict)]
        if len(ports) > 1 and any(not n for n in names):
            out.append("spec.ports: every port needs a name when a Service has more than one")
        for name, n in Counter(n for n in names if n).items():
            if n > 1:
                out.append(f"spec.ports: name {name!r} is used {n} times")
        for p, n in Counter((p.get("port"), p.get("protocol", "TCP")) for p in ports if isinstance(p, dict)).items():
            if n > 1:
                out.append(f"spec.ports: port {p[0]}/{p[1]} is declared {n} times")
        for p in ports:
            if not isinstance(p, dict):
                continue
            if p.get("name") and (problem := dns_label_problem(p["name"])):
                out.append(f"spec.ports name {p['name']!r} {problem}")
            if (problem := _port_value_problem(p.get("port"))) or isinstance(p.get("port"), str):
                out.append(f"spec.ports port {p.get('port')!r} {problem or 'must be a number'}")
            if p.get("targetPort") is not None and (problem := _port_value_problem(p["targetPort"])):
                out.append(f"spec.ports targetPort {p['targetPort']!r} {problem}")
        return out
    if template is None:
        return None
    spec = template.get("spec") or {}
    for where, c in _containers(spec):
        ports = [p for p in c.get("ports") or [] if isinstance(p, dict)]
        for p in ports:
            if (problem := _port_value_problem(p.get("containerPort"))) or isinstance(p.get("containerPort"), str):
                out.append(f"{where} containerPort {p.get('containerPort')!r} {problem or 'must be a number'}")
            if p.get("name") is not None and (problem := port_name_problem(p["name"])):
                out.append(f"{where} port name {p['name']!r} {problem}")
        for name, n in Counter(p.get("name") for p in ports if p.get("name")).items():
            if n > 1:
                out.append(f"{where}: port name {name!r} is used {n} times")
        for (port, proto), n in Counter((p.get("containerPort"), p.get("protocol", "TCP")) for p in ports).items():
            if n > 1:
                out.append(f"{where}: containerPort {port}/{proto} is declared {n} times")
        names = {p.get("name") for p in ports}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            for handler in ("httpGet", "tcpSocket", "grpc"):
                port = _get(c, probe, handler, "port")
                if port is None:
                    continue
                if (problem := _port_value_problem(port)):
                    out.append(f"{where}.{probe}.{handler}.port {port!r} {problem}")
                elif isinstance(port, str) and port not in names:
                    out.append(f"{where}.{probe}.{handler}.port {port!r} names no port of the container")
    return out


def _env(obj: dict, template: dict | None) -> list[str] | None:
    if template is None:
        return None
    out = []
    for where, c in _containers(template.get("spec") or {}):
        names = [e.get("name") for e in c.get("env") or [] if isinstance(e, dict)]
        for name in names:
            if (problem := env_name_problem(name)):
                out.append(f"{where} env {name!r} {problem}")
        for name, n in Counter(names).items():
            if n > 1:
                out.append(f"{where}: env {name} is set {n} times (the last one silently wins)")
    return out


def _volumes(obj: dict, template: dict | None) -> list[str] | None:
    if template is None:
        return None
    spec = template.get("spec") or {}
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    out = []
    for v in volumes:
        if (problem := dns_label_problem(str(v.get("name")))):
            out.append(f"volume name {v.get('name')!r} {problem}")
    for name, n in Counter(v.get("name") for v in volumes).items():
        if n > 1:
            out.append(f"volume {name} is declared {n} times")
    declared = {v.get("name") for v in volumes}
    for where, c in _containers(spec):
        mounts = [m for m in c.get("volumeMounts") or [] if isinstance(m, dict)]
        for m in mounts:
            if m.get("name") not in declared:
                out.append(f"{where} mounts volume {m.get('name')!r}, which the pod does not declare "
                           f"(volumes: {', '.join(sorted(str(d) for d in declared)) or 'none'})")
        for path, n in Counter(m.get("mountPath") for m in mounts).items():
            if n > 1:
                out.append(f"{where}: mountPath {path} is used by {n} mounts")
    return out


def _references(obj: dict, template: dict | None, rendered: set[tuple[str, str, str]], namespace: str) -> list[str] | None:
    if template is None:
        return None
    spec = template.get("spec") or {}
    external = {kind: {s.strip() for s in str(_get(template, "metadata", "annotations", key) or "").split(",") if s.strip()}
                for kind, key in (("Secret", EXTERNAL_SECRETS_ANNOTATION), ("PersistentVolumeClaim", EXTERNAL_CLAIMS_ANNOTATION))}
    wanted: list[tuple[str, str, str, bool]] = []  # kind, name, where, optional
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        if isinstance(v.get("configMap"), dict):
            wanted.append(("ConfigMap", v["configMap"].get("name"), f"volume {v.get('name')}", bool(v["configMap"].get("optional"))))
        if isinstance(v.get("secret"), dict):
            wanted.append(("Secret", v["secret"].get("secretName"), f"volume {v.get('name')}", bool(v["secret"].get("optional"))))
        if isinstance(v.get("persistentVolumeClaim"), dict):
            wanted.append(("PersistentVolumeClaim", v["persistentVolumeClaim"].get("claimName"), f"volume {v.get('name')}", False))
        for src in _get(v, "projected", "sources") or []:
            for key, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                if isinstance((src or {}).get(key), dict):
                    wanted.append((kind, src[key].get("name"), f"projected volume {v.get('name')}", bool(src[key].get("optional"))))
    for where, c in _containers(spec):
        for e in c.get("env") or []:
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = _get(e, "valueFrom", key)
                if isinstance(ref, dict):
                    wanted.append((kind, ref.get("name"), f"{where} env {e.get('name')}", bool(ref.get("optional"))))
        for e in c.get("envFrom") or []:
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if isinstance((e or {}).get(key), dict):
                    wanted.append((kind, e[key].get("name"), f"{where} envFrom", bool(e[key].get("optional"))))
    account = spec.get("serviceAccountName")
    if account and account != "default":
        wanted.append(("ServiceAccount", account, "serviceAccountName", False))
    out = []
    for kind, name, where, optional in wanted:
        if optional or (kind, namespace, name) in rendered or (kind, name) in EXTERNAL_OBJECTS:
            continue
        if name in external.get(kind, ()):
            continue
        out.append(f"{where} references {kind} {name!r}, which the stack does not render in namespace {namespace} "
                   f"(and it is not a documented external object)")
    return out


class _PodIndex:
    """The pod templates of each namespace, indexed by their label pairs, so that "does this selector match any pod
    template" reads only the templates holding one of the selector's pairs instead of every template (a
    NetworkPolicy per service against every pod: quadratic in services). :meth:`candidates` keeps manifest order
    and every template a selector can match: those holding its first usable ``matchLabels`` pair (its value not
    None), plus any whose labels are not a mapping; a selector without a usable pair gets them all."""

    def __init__(self, pods: dict[str, list[tuple[str, Any]]]):
        self.pods = pods
        self._odd: dict[str, list[int]] = {}
        self._by_pair: dict[str, dict[tuple[Any, Any], list[int]]] = {}
        for namespace, entries in pods.items():
            by_pair = self._by_pair.setdefault(namespace, {})
            for pos, (_, labels) in enumerate(entries):
                if not isinstance(labels, dict):
                    self._odd.setdefault(namespace, []).append(pos)
                    continue
                for pair in labels.items():
                    try:
                        by_pair.setdefault(pair, []).append(pos)
                    except TypeError:  # a value no hash can key: it equals no hashable selector value
                        continue

    def candidates(self, namespace: Any, match_labels: Any) -> list[tuple[str, Any]]:
        entries = self.pods.get(namespace, [])
        pair = None
        if isinstance(match_labels, dict):
            for k, v in match_labels.items():
                try:
                    hash(v)
                except TypeError:
                    continue
                if v is not None:
                    pair = (k, v)
                    break
        if pair is None:
            return entries
        positions = sorted(self._odd.get(namespace, []) + self._by_pair.get(namespace, {}).get(pair, []))
        return [entries[pos] for pos in positions]


def _selectors(obj: dict, template: dict | None, pods: _PodIndex, namespace: str) -> list[str] | None:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    candidates = pods.pods.get(namespace, [])
    if template is not None and template is not obj:
        labels = _get(template, "metadata", "labels") or {}
        if kind in ("Job", "CronJob") and not spec.get("selector"):
            return []  # generated by the API server from the controller uid
        if not _matches(spec.get("selector"), labels):
            return [f"spec.selector {spec.get('selector')} does not match the pod template's labels {labels}"]
        return []
    if kind == "Service":
        selector, plain = spec.get("selector"), True
        if not selector:
            return None  # a selector-less Service (endpoints managed elsewhere)
    elif kind == "NetworkPolicy":
        selector, plain = spec.get("podSelector"), False
        if not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions"):
            return []  # {} selects every pod of the namespace
    elif kind == "PodDisruptionBudget":
        selector, plain = spec.get("selector"), False
    else:
        return None
    match_labels = selector if plain else (selector.get("matchLabels") if isinstance(selector, dict) else None)
    if any(_matches(selector, labels, plain=plain) for _, labels in pods.candidates(namespace, match_labels)):
        return []
    shown = ", ".join(rid for rid, _ in candidates) or "none"
    return [f"selector {selector} matches no pod template in namespace {namespace} (pod templates: {shown})"]


OWN_CHECKS = ("SLM_APPLY_METADATA", "SLM_APPLY_QUANTITY", "SLM_APPLY_PORTS", "SLM_APPLY_ENV", "SLM_APPLY_VOLUMES")
"""The checks that read one object alone, in report order (references and selectors read the stack's objects)."""


def own_problems(obj: dict) -> list[list[str] | None]:
    """The :data:`OWN_CHECKS` of one object, in that order: its problems, or None where a check does not apply. A
    function of the object alone (the gate caches it per rendered file: slm_deploy/gate/incremental.py)."""
    template = pod_template(obj)
    return [_metadata(obj, template), _quantities(obj, template), _ports(obj, template), _env(obj, template),
            _volumes(obj, template)]


def check_kubernetes(objects: list[tuple[str, dict]],
                     own: Callable[[str, dict], list[list[str] | None]] | None = None) -> list[Result]:
    """``(file, object)`` pairs of one rendered stack -> one Result per applicable check per object.

    ``own(file, object)``: :func:`own_problems` of that object, e.g. from a cache (default: worked out here)."""
    rendered: set[tuple[str, str, str]] = set()
    pods: dict[str, list[tuple[str, dict]]] = {}
    for _, obj in objects:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        rendered.add((obj.get("kind", ""), namespace, meta.get("name")))
        template = pod_template(obj)
        if template is not None:
            pods.setdefault(namespace, []).append(
                (f"{obj.get('kind')}/{meta.get('name')}", _get(template, "metadata", "labels") or {}))
    index = _PodIndex(pods)
    results = []
    for file, obj in objects:
        meta = obj.get("metadata") or {}
        kind, namespace, name = obj.get("kind", ""), meta.get("namespace") or "default", str(meta.get("name"))
        resource = f"{kind}.{namespace}.{name}"
        template = pod_template(obj)
        checks = dict(zip(OWN_CHECKS, own(file, obj) if own is not None else own_problems(obj)))
        checks["SLM_APPLY_REFERENCES"] = _references(obj, template, rendered, namespace)
        checks["SLM_APPLY_SELECTORS"] = _selectors(obj, template, index, namespace)
        results += [Result(cid, resource, problems, kind, namespace, name)
                    for cid, problems in checks.items() if problems is not None]
    return results


# --------------------------------------------------------------------------- compose rules


def _published(port: Any) -> list[tuple[str, int, str]]:
    """(host address, host port, protocol) a compose port entry publishes; [] when none is fixed."""
    if isinstance(port, dict):
        published, host_ip, proto = port.get("published"), port.get("host_ip") or "", port.get("protocol") or "tcp"
    else:
        text = str(port)
        text, _, proto = text.partition("/")
        proto = proto or "tcp"
        parts = text.rsplit(":", 2)
        if len(parts) == 1:
            return []
        host_ip, published = (parts[0], parts[1]) if len(parts) == 3 else ("", parts[0])
        host_ip = host_ip.strip("[]")
    if published in (None, ""):
        return []
    first, _, last = str(published).partition("-")
    try:
        return [(host_ip, p, proto) for p in range(int(first), int(last or first) + 1)]
    except ValueError:
        return []


def _overlap(a: str, b: str) -> bool:
    wildcard = ("", "0.0.0.0", "::")
    return a == b or a in wildcard or b in wildcard


def check_compose(doc: dict) -> list[Result]:
    services = doc.get("services") or {}
    results = []
    taken: list[tuple[str, int, str, str]] = []
    for name, svc in services.items():
        problems = []
        for host_ip, port, proto in (p for entry in (svc or {}).get("ports") or [] for p in _published(entry)):
            for other, (o_ip, o_port, o_proto, o_host) in ((t[3], t) for t in taken):
                if o_port == port and o_proto == proto and _overlap(o_ip, host_ip):
                    problems.append(f"host port {host_ip or '*'}:{port}/{proto} is already published by service {other}")
            taken.append((host_ip, port, proto, name))
        results.append(Result("SLM_APPLY_COMPOSE_PORTS", f"service.{name}", problems, "service", "", name))
    for name, svc in services.items():
        svc = svc or {}
        problems = []
        declared = {key: set((doc.get(key) or {}).keys()) for key in ("volumes", "networks", "secrets", "configs")}
        for v in svc.get("volumes") or []:
            source = v.get("source") if isinstance(v, dict) and v.get("type", "volume") == "volume" else (
                str(v).split(":", 1)[0] if isinstance(v, str) and ":" in v else None)
            if source and not source.startswith((".", "/", "~")) and source not in declared["volumes"]:
                problems.append(f"volume {source!r} is not declared under top-level volumes")
        networks = svc.get("networks") or []
        for n in networks if isinstance(networks, list) else list(networks):
            if n != "default" and n not in declared["networks"]:
                problems.append(f"network {n!r} is not declared under top-level networks")
        for key in ("secrets", "configs"):
            for ref in svc.get(key) or []:
                source = ref.get("source") if isinstance(ref, dict) else ref
                if source not in declared[key]:
                    problems.append(f"{key[:-1]} {source!r} is not declared under top-level {key}")
        depends = svc.get("depends_on") or []
        for dep in depends if isinstance(depends, list) else list(depends):
            if dep not in services:
                problems.append(f"depends_on {dep!r} names no service of the file")
        results.append(Result("SLM_APPLY_COMPOSE_REFERENCES", f"service.{name}", problems, "service", "", name))
    return results


# --------------------------------------------------------------------------- gate adapter


def apply_findings(build_dir: Path, manifests: dict[Path, Any], compose: dict | None,
                   own: Callable[[str, dict], list[list[str] | None]] | None = None,
                   rels: dict[Path, str] | None = None):
    """The stage as the gate runs it: (passed findings, failed findings, check ids that ran). ``own``: see
    :func:`check_kubernetes`; ``rels``: the manifests' build-relative paths when the caller has them."""
    files: dict[str, str] = {}
    objects = []
    rels = rels or {}
    for path, obj in manifests.items():
        if isinstance(obj, dict):
            rel = rels.get(path) or path.relative_to(build_dir).as_posix()
            objects.append((rel, obj))
            meta = obj.get("metadata") or {}
            files[f"{obj.get('kind')}.{meta.get('namespace') or 'default'}.{meta.get('name')}"] = rel
    results = check_kubernetes(objects, own) + (check_compose(compose) if isinstance(compose, dict) else [])
    passed, failed = [], []
    for r in results:
        finding = Finding(r.check_id, APPLY_CHECKS[r.check_id][0], r.resource,
                          files.get(r.resource, "compose.yaml" if r.kind == "service" else ""), "; ".join(r.problems),
                          severity="HIGH", source="apply", kind=r.kind, namespace=r.namespace, name=r.name)
        (failed if r.problems else passed).append(finding)
    return passed, failed, {r.check_id for r in results}
