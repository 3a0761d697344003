"""CKV_SLM_033: no API-key material outside Secrets (ConfigMaps, annotations, container env and args).

What counts as key material, anywhere in a non-Secret object:

* a value the offline synth marked as a Pulumi secret (the ``[secret]`` placeholder): a secret output
  was wired into a ConfigMap, an annotation, an env value or an argument;
* token shapes (``sk-…``, ``hf_…``), as CKV_SLM_004 knows them;
* a literal bearer credential (``Bearer <literal>``, not an nginx/shell ``$variable``);
* the proxies' key formats: an nginx map line ``"~^Bearer \\Q<key>\\E$"`` or a gateway keys-file line
  ``<client> <sha256 hex>`` (hashes of keys are still key material: a weak key falls to a dictionary).

The gateway and the auth proxies keep keys (or their hashes) only in Secrets mounted as files; the same
rendered objects are what ``pulumi up`` applies, so this is judged on them.
"""
from __future__ import annotations

import base64
import binascii
import re

from policies.rules._k8s import WORKLOAD_KINDS, as_dict, container_argv, container_env, containers, pod_template
from policies.rules._secrets import TOKEN_SHAPES
from policies.rules._types import NA, CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_033",
    name="Ensure no API key material (keys, key hashes, secret values) sits outside Secrets",
    severity="HIGH",
    rationale=(
        "ConfigMaps, annotations, env values and arguments are readable by anyone with `get` on them, appear in "
        "`kubectl describe`, GitOps repositories and the rendered manifests, and are never encrypted at rest. A "
        "client key, a bearer header, a proxy key-map line, a hash from the gateway's keys file or any value "
        "marked secret there lets a reader call (or brute-force a key for) every model. Keep them in Secrets "
        "mounted as files."
    ),
    reference="https://kubernetes.io/docs/concepts/configuration/secret/#information-security-for-secrets",
    framework="kubernetes",
    kinds=("ConfigMap", "Service", "Ingress") + WORKLOAD_KINDS,
)

SECRET_PLACEHOLDER = "[secret]"  # what the offline synth writes for a Pulumi secret (policies.compose.service)
_BEARER = re.compile(r"\bBearer\s+(?!\$)([A-Za-z0-9._~+/=-]{12,})")
_KEY_MAP = re.compile(r"\\Q(?![<.])[^\s]{8,}?\\E")  # not the "\\Q<key>\\E" / "\\Q...\\E" of comments
_KEYS_FILE_LINE = re.compile(r"(?m)^\s*[a-z0-9][a-z0-9-]{0,62}\s+[0-9a-f]{64}\s*$")


def problems_in(text: str, where: str) -> list[str]:
    if text.strip() == SECRET_PLACEHOLDER:
        return [f"{where} holds a value marked secret"]
    found = []
    if TOKEN_SHAPES.search(text):
        found.append(f"{where} holds a token (sk-/hf_ shape)")
    if _BEARER.search(text):
        found.append(f"{where} holds a literal bearer credential")
    if _KEY_MAP.search(text):
        found.append(f"{where} holds a proxy key-map line (\\Q<key>\\E)")
    if _KEYS_FILE_LINE.search(text):
        found.append(f"{where} holds a keys-file line (<client> <sha256 of a key>)")
    return found


def _mapping(value: object) -> dict:
    """Annotations as a dict; checkov's parser hands them over as a list of one-entry dicts."""
    if isinstance(value, list):
        return {k: v for item in value if isinstance(item, dict) for k, v in item.items()}
    return as_dict(value)


def _annotations(obj: dict) -> list[tuple[str, str]]:
    out = [(f"annotation {k}", str(v)) for k, v in _mapping(as_dict(obj.get("metadata")).get("annotations")).items()]
    tpl = pod_template(obj)
    if tpl:
        out += [(f"pod annotation {k}", str(v)) for k, v in _mapping(tpl[0].get("annotations")).items()]
    return out


def _decoded(value: object) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def evaluate(obj: dict) -> Result:
    if obj.get("kind") == "Secret" or obj.get("kind") not in META.kinds:
        return NA
    values = _annotations(obj)
    if obj.get("kind") == "ConfigMap":
        values += [(f"data {k}", str(v)) for k, v in as_dict(obj.get("data")).items()]
        values += [(f"binaryData {k}", _decoded(v)) for k, v in as_dict(obj.get("binaryData")).items()]
    tpl = pod_template(obj)
    if tpl:
        for c in containers(tpl[1]):
            name = c.get("name")
            values += [(f"container {name!r} env {v.name}", v.value or "") for v in container_env(c) if v.source == "literal"]
            values += [(f"container {name!r} argument", a) for a in container_argv(c)]
    problems = [p for where, text in values for p in problems_in(text, where)]
    return Result.judge(True, problems)
