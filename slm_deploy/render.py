"""Render a synth result into ``build/<stack>/``: what the gate scans and what Pulumi applies.

* ``manifests/``   one YAML file per Kubernetes object, ``<namespace>.<kind>.<name>.yaml``, keys sorted;
* ``compose.yaml`` the Docker-target resources as an equivalent compose file;
* ``files/``       generated files carried inside resources (ConfigMap data, container uploads);
* ``secrets/README.md`` the secret files compose.yaml reads (``./secrets/<name>``) and how to create them;
* ``resources.json`` every resource with type, name and parent.

Nothing here knows a component: it reads Kubernetes objects and pulumi-docker
resources the way their providers would apply them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from components.base import GENERATED_FILES, SECURITY_OPT_OUTS
from policies.compose.service import CONTAINER_TYPE, ComposeService, container_service
from slm_deploy.synth import SECRET_PLACEHOLDER, ResourceRecord, SynthResult
from slm_deploy.yaml_dump import dump_yaml

__all__ = ["render", "OutDirError", "ObjectCollision", "collisions", "BUILD_MARKER", "manifest_objects", "compose_document", "generated_files", "dump_yaml", "manifest_filename",
           "secrets_readme"]

_CONTAINER = CONTAINER_TYPE
_NETWORK = "docker:index/network:Network"
_VOLUME = "docker:index/volume:Volume"
_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
_BUILT_IMAGE = "docker:index/image:Image"
# File-like ConfigMap keys (dashboards, rule files, Modelfiles, configs) are also written to files/.
_FILE_KEY = re.compile(r"(\.[A-Za-z0-9]+$)|(^Modelfile)|(^Dockerfile)")


# --------------------------------------------------------------------------- kubernetes


def manifest_objects(result: SynthResult) -> list[dict[str, Any]]:
    """The Kubernetes objects Pulumi would apply, in registration order."""
    return [
        r.inputs
        for r in result.resources
        if r.custom and r.type.startswith("kubernetes:") and not r.is_provider and "kind" in r.inputs
    ]


def manifest_filename(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace", "_cluster")
    return f"{namespace}.{obj['kind'].lower()}.{metadata['name']}.yaml"


def _kubernetes_identity(rec: ResourceRecord) -> str | None:
    if not (rec.custom and rec.type.startswith("kubernetes:") and not rec.is_provider and "kind" in rec.inputs):
        return None
    metadata = rec.inputs.get("metadata") or {}
    where = f"namespace {metadata['namespace']}" if metadata.get("namespace") else "the cluster"
    return f"{rec.inputs['kind']} {metadata.get('name')!r} in {where}"


def _docker_identity(rec: ResourceRecord) -> str | None:
    kinds = {_CONTAINER: "container", _NETWORK: "network", _VOLUME: "volume"}
    if rec.type not in kinds:
        return None
    return f"Docker {kinds[rec.type]} {rec.inputs.get('name') or rec.name!r}"


def collisions(result: SynthResult) -> list[str]:
    """Pairs of resources that would create the same object (same kind, namespace and name; same Docker name).

    Pulumi registers both (their resource names differ), and the API server or Docker keeps the first
    and refuses the second at ``pulumi up``; rendered side by side, the second would silently replace the
    first in ``build/``. The stack file's name rules (stacks/consistency.py) catch what a user can cause;
    this catches every other way, e.g. a component naming two parts alike.
    """
    owners: dict[str, str] = {}
    found = []
    for rec in result.resources:
        identity = _kubernetes_identity(rec) or _docker_identity(rec)
        if identity is None:
            continue
        if identity in owners:
            found.append(f"{identity} is created twice: by {owners[identity]} and by {rec.key}")
        else:
            owners[identity] = rec.key
    return found


class ObjectCollision(Exception):
    """The program creates one object twice (see :func:`collisions`); nothing is written."""


# --------------------------------------------------------------------------- compose


def _by_key(result: SynthResult) -> dict[str, ResourceRecord]:
    return {r.key: r for r in result.resources}


def _service_name(rec: ResourceRecord) -> str:
    return rec.inputs.get("name") or rec.name


def _depends_on(rec: ResourceRecord, records: dict[str, ResourceRecord]) -> dict[str, dict[str, str]]:
    """Compose ``depends_on`` of a container: healthy, completed (one-shot steps) or started."""
    depends = {}
    for dep in rec.depends_on:
        target = records.get(dep)
        if target is None or target.type != _CONTAINER:
            continue
        if target.inputs.get("healthcheck"):
            condition = "service_healthy"
        elif target.inputs.get("restart") == "no":
            condition = "service_completed_successfully"
        else:
            condition = "service_started"
        depends[_service_name(target)] = {"condition": condition}
    return depends


def _compose_service(rec: ResourceRecord, records: dict[str, ResourceRecord]) -> ComposeService:
    return container_service(
        rec.inputs, name=_service_name(rec),
        build=_build_of(rec.inputs.get("image"), records), depends_on=_depends_on(rec, records),
        config_file=lambda source: _generated_file_of(source, records),
    )


def _generated_file_of(source: str, records: dict[str, ResourceRecord]) -> str:
    """``./files/<component>/<path>`` for an upload read from a component's rendered generated file.

    Components upload public files (config) by ``source`` from ``<build root>/<stack>/files/<component>/``,
    the gated copy the renderer writes; the compose export reads the same file from this build directory.
    """
    parts = PurePosixPath(source).parts
    for rec in records.values():
        for path in (rec.inputs.get(GENERATED_FILES) or {}) if not rec.custom else ():
            relative = PurePosixPath(rec.name, path).parts
            if parts[-len(relative):] == relative:
                return f"./files/{rec.name}/{path}"
    raise ValueError(f"upload source {source} is not a generated file of any component (files/<component>/<path>)")


def _build_of(image: Any, records: dict[str, ResourceRecord]) -> dict[str, Any] | None:
    """Compose ``build:`` for a container running an image the stack builds (docker.Image).

    The context is the building component's generated files (``files/<component>/``), the
    same bytes the gate scans; without generated files there is nothing to point compose at.
    """
    for rec in records.values():
        if rec.type != _BUILT_IMAGE or rec.inputs.get("imageName") != image or not rec.parent:
            continue
        parent = records.get(rec.parent)
        files = (parent.inputs.get(GENERATED_FILES) or {}) if parent else {}
        if "Dockerfile" in files:
            build = {"context": f"./files/{parent.name}", "dockerfile": "Dockerfile"}
            platform = (rec.inputs.get("build") or {}).get("platform")
            if platform:
                build["platforms"] = [platform]
            return build
    return None


def _compose_network(inputs: dict[str, Any]) -> dict[str, Any]:
    """A ``docker.Network``'s settings in compose: ``internal``, ``driver`` and the driver options
    (``options``, e.g. ``com.docker.network.bridge.enable_icc: "false"``) as ``driver_opts``, so the
    export isolates containers exactly as Pulumi's network does."""
    network = {k: inputs[k] for k in ("internal", "driver") if inputs.get(k) is not None}
    if inputs.get("options"):
        network["driver_opts"] = {k: str(v) for k, v in sorted(inputs["options"].items())}
    return network


def compose_document(result: SynthResult) -> dict[str, Any] | None:
    """The compose file equivalent to the stack's pulumi-docker resources (None when there are none)."""
    records = _by_key(result)
    containers = [r for r in result.resources if r.type == _CONTAINER]
    if not containers:
        return None
    doc: dict[str, Any] = {"name": result.stack, "services": {}}
    all_configs: dict[str, dict[str, str]] = {}
    all_secrets: list[str] = []
    for rec in containers:
        translated = _compose_service(rec, records)
        doc["services"][_service_name(rec)] = translated.service
        all_configs.update(translated.configs)
        all_secrets.extend(translated.secrets)
    networks = {r.inputs.get("name", r.name): _compose_network(r.inputs) for r in result.resources if r.type == _NETWORK}
    volumes = {r.inputs.get("name", r.name): {"name": r.inputs.get("name", r.name)} for r in result.resources if r.type == _VOLUME}
    if networks:
        doc["networks"] = networks
    if volumes:
        doc["volumes"] = volumes
    if all_configs:
        doc["configs"] = dict(all_configs)
    if all_secrets:
        doc["secrets"] = {name: {"file": f"./secrets/{name}"} for name in sorted(set(all_secrets))}
    return doc


SECRET_FORMAT_LABEL = "slm-deploy.io/secret-format"
"""Container label naming the format of its secret files: ``<target path>=<format>[,...]``.

Unlabelled secret files are ``random-token``. A component labels a file whose consumer needs more than
a random string (the auth proxy's ``keys.map`` is nginx map syntax; a bare token makes nginx refuse it).
"""

SECRET_FORMATS: dict[str, tuple[str, str]] = {
    "random-token": (
        "any random string (a generated key, a session-signing key). Keep it: clients that need it read it "
        "from this file.",
        "umask 077\nopenssl rand -hex 32 > {path}\n",
    ),
    "nginx-key-map": (
        "nginx `map` lines, one per accepted API key: `\"~^Bearer \\Q<key>\\E$\" \"<client>\";` (a case-sensitive "
        "regex on the whole header value; `\\Q...\\E` takes the key literally, so it may hold any printable "
        "character except whitespace, quotes, backslashes and `;`). The commands create one random key and "
        "print it for your clients; to keep a key clients already hold, set `key` to it instead.",
        "umask 077\n"
        "key=\"$(openssl rand -hex 32)\"\n"
        "printf '\"~^Bearer \\\\Q%s\\\\E$\" \"default\";\\n' \"$key\" > {path}\n"
        "printf 'API key for clients: %s\\n' \"$key\"\n",
    ),
    "client-key-hashes": (
        "one line per accepted key, `<client> <sha256 hex of the key>` (the named-client proxy compares the "
        "SHA-256 of the presented key, so the file holds no key; several lines for one client let an old and "
        "a new key overlap while clients roll over). The commands create one random key per client of the "
        "proxy and print each key once, for that client; to keep a key a client already holds, hash it "
        "instead of a new one.",
        "umask 077\n"
        ": > {path}\n"
        "for client in {clients}; do\n"
        "  key=\"sk-$(openssl rand -hex 24)\"\n"
        "  printf '%s %s\\n' \"$client\" \"$(printf '%s' \"$key\" | openssl dgst -sha256 -r | cut -d' ' -f1)\" >> {path}\n"
        "  printf 'key for %s: %s\\n' \"$client\" \"$key\"\n"
        "done\n",
    ),
}
API_CLIENTS_LABEL = "slm-deploy.io/api-clients"
"""Container label of a named-client proxy: its client names, comma-separated (the ``client-key-hashes``
recipe creates one key per name)."""


SAME_AS = "same-as:"
"""Format ``same-as:<secret>``: a second copy of another secret file (a proxy presenting a server's own key)."""


def _same_as(source: str) -> tuple[str, str]:
    return (f"the same value as `secrets/{source}` (create that file first): a proxy presents the key of the server "
            "behind it, so both files must hold one value; never hand it to clients.",
            f"umask 077\ncp secrets/{source} {{path}}\n")


def _secret_formats(service: dict[str, Any]) -> dict[str, str]:
    raw = (service.get("labels") or {}).get(SECRET_FORMAT_LABEL, "")
    pairs = (item.split("=", 1) for item in raw.split(",") if item)
    return {target: fmt for target, fmt in pairs}


def secrets_readme(compose: dict[str, Any]) -> str | None:
    """``secrets/README.md``: the secret files the compose export reads, and how to create each one.

    The synth never sees secret values, so the compose file refers to ``./secrets/<name>``; this lists
    each such file with the services and in-container paths that read it, and commands that create a file
    its consumer accepts (by the format the consuming container declares in :data:`SECRET_FORMAT_LABEL`).
    No value is ever written.
    """
    names = sorted(compose.get("secrets") or {})
    if not names:
        return None
    users: dict[str, list[str]] = {n: [] for n in names}
    formats: dict[str, str] = {}
    clients: dict[str, str] = {}
    for service_name, service in sorted(compose.get("services", {}).items()):
        declared = _secret_formats(service)
        for ref in service.get("secrets", []):
            users.setdefault(ref["source"], []).append(f"`{service_name}` reads it at `{ref['target']}`")
            formats[ref["source"]] = declared.get(ref["target"], formats.get(ref["source"], "random-token"))
            clients[ref["source"]] = " ".join(str((service.get("labels") or {}).get(API_CLIENTS_LABEL, "")).split(","))
    lines = [
        "# Secret files for compose.yaml",
        "",
        "`compose.yaml` reads each secret below from a file in this directory. Nothing creates these files:",
        "slm-deploy never writes secret values. Create them before `docker compose up`, running the commands",
        "under each file from this directory's parent (the one holding compose.yaml); keep them readable only",
        "by you and out of version control. To use a value you already have (an API key clients hold, an",
        "upstream token), write it in the same format instead: `printf '%s' \"$VALUE\" > secrets/<name>`",
        "for a plain value.",
    ]
    for name in names:
        fmt = formats.get(name, "random-token")
        if fmt.startswith(SAME_AS):
            what, commands = _same_as(fmt[len(SAME_AS):])
        elif fmt not in SECRET_FORMATS:
            raise ValueError(f"secret {name}: unknown format {fmt!r} in label {SECRET_FORMAT_LABEL}")
        else:
            what, commands = SECRET_FORMATS[fmt]
        lines += [
            "",
            f"## `secrets/{name}`",
            "",
            f"Used by: {'; '.join(users.get(name, [])) or '-'}.",
            f"Format ({fmt}): {what}",
            "",
            "```sh",
            commands.format(path=f"secrets/{name}", clients=clients.get(name, "")).rstrip("\n"),
            "```",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- generated files


def generated_files(result: SynthResult) -> dict[str, str]:
    """Files carried inside resources: file-like ConfigMap keys and container uploads."""
    files: dict[str, str] = {}
    owners: dict[str, str] = {}

    def add(rel: str, content: str, rec: ResourceRecord) -> None:
        if rel in files and files[rel] != content:
            raise ObjectCollision(f"files/{rel} is written twice with different content: by {owners[rel]} and by {rec.key}")
        files[rel], owners[rel] = content, rec.key

    for rec in result.resources:
        if rec.type == "kubernetes:core/v1:ConfigMap":
            for key, content in (rec.inputs.get("data") or {}).items():
                if _FILE_KEY.search(key):
                    add(f"{rec.inputs['metadata']['name']}/{key}", content, rec)
        elif rec.type == _CONTAINER:
            for up in rec.inputs.get("uploads") or []:
                if "content" in up and up["content"] != SECRET_PLACEHOLDER:
                    add(f"{_service_name(rec)}/{Path(up['file']).name}", up["content"], rec)
        elif rec.custom is False and isinstance(rec.inputs.get(GENERATED_FILES), dict):
            for path, content in rec.inputs[GENERATED_FILES].items():
                add(f"{rec.name}/{path}", content, rec)
    return files


# --------------------------------------------------------------------------- entry point


BUILD_MARKER = ".slm-deploy-build"
"""Written into every build directory; only a directory carrying it (or an empty one) is ever replaced."""


class OutDirError(Exception):
    """The output directory holds something that is not a previous build: refuse to delete it."""


def _claim(out_dir: Path) -> bool:
    """Check ``out_dir`` may be (re)written; True when it holds a previous build (updated in place)."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise OutDirError(f"{out_dir} exists and is not a directory")
        previous_build = (out_dir / BUILD_MARKER).exists() or (
            (out_dir / "resources.json").is_file() and (out_dir / "manifests").is_dir()  # builds from before the marker
        )
        if any(out_dir.iterdir()) and not previous_build:
            raise OutDirError(
                f"{out_dir} is not empty and is not a previous slm-deploy build (no {BUILD_MARKER}); "
                "choose an empty or new directory"
            )
        return previous_build
    return False


def _write_build(out_dir: Path, outputs: dict[str, str]) -> None:
    """Make ``out_dir`` hold exactly ``outputs`` (relative path -> text), as a fresh directory would.

    A previous build is updated in place: a file whose bytes are unchanged is not rewritten, everything
    the new build does not produce (stale objects, old reports, the input marker) is deleted.
    """
    previous = _claim(out_dir)
    if previous:
        wanted_dirs = {rel.rsplit("/", 1)[0] for rel in outputs if "/" in rel}
        wanted_dirs |= {d.rsplit("/", i)[0] for d in list(wanted_dirs) for i in range(1, d.count("/") + 1)}
        for top, dirs, names in os.walk(out_dir, topdown=False):  # never follows a symlink out of the build
            base = Path(top)
            for name in names + [d for d in dirs if (base / d).is_symlink()]:
                if (base / name).relative_to(out_dir).as_posix() not in outputs:
                    (base / name).unlink()
            for name in dirs:
                path = base / name
                if path.is_dir() and not path.is_symlink() and (path.relative_to(out_dir).as_posix() not in wanted_dirs
                                              or not any(path.iterdir())):
                    shutil.rmtree(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = {""}  # directories (relative) known to exist
    for rel, text in outputs.items():
        path = out_dir / rel
        data = text.encode()
        if previous:  # a fresh or empty directory holds none of these paths: nothing to compare or clear
            try:
                if path.is_file() and not path.is_symlink() and path.stat().st_size == len(data) and path.read_bytes() == data:
                    continue
            except OSError:
                pass
            if path.is_symlink() or path.is_dir():
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        parent = rel.rpartition("/")[0]
        if parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        path.write_bytes(data)


def render(result: SynthResult, out_dir: Path) -> dict[str, Any]:
    """Write the build directory (afresh, or a previous build updated in place); returns a summary.

    Raises :class:`OutDirError` rather than touch a directory that is not a previous build, and
    :class:`ObjectCollision` (before writing anything) when two resources would create the same object.
    YAML comes from the per-object cache (:mod:`slm_deploy.render_cache`) unless ``SLM_DEPLOY_NO_CACHE=1``.
    """
    from slm_deploy.gate.cache import cache_dir, cache_disabled
    from slm_deploy.render_cache import YamlCache

    duplicated = collisions(result)
    if duplicated:
        raise ObjectCollision("; ".join(duplicated))
    files = generated_files(result)  # raises ObjectCollision too, before anything is written
    _claim(out_dir)  # refuse before any work
    yaml_cache = YamlCache(result.stack, None if cache_disabled() else cache_dir())
    outputs: dict[str, str] = {BUILD_MARKER: "Rendered by slm-deploy; replaced on every preview.\n"}
    objects = manifest_objects(result)
    for obj in objects:
        outputs[f"manifests/{manifest_filename(obj)}"] = yaml_cache.dump(obj)

    compose = compose_document(result)
    if compose is not None:
        outputs["compose.yaml"] = yaml_cache.dump(compose)
        readme = secrets_readme(compose)
        if readme is not None:
            outputs["secrets/README.md"] = readme

    for rel, content in files.items():
        outputs[f"files/{rel}"] = content

    resources = [
        {"type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom}
        for r in result.resources
    ]
    outputs["resources.json"] = json.dumps(resources, indent=2, sort_keys=True) + "\n"
    opt_outs = [o for r in result.resources if not r.custom for o in r.inputs.get(SECURITY_OPT_OUTS, [])]
    outputs["opt-outs.json"] = json.dumps(opt_outs, indent=2, sort_keys=True) + "\n"
    _write_build(out_dir, outputs)
    yaml_cache.save()
    return {"manifests": len(objects), "compose": compose is not None, "files": len(files), "resources": len(resources)}
