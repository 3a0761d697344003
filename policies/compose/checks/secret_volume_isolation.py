from pathlib import PurePosixPath

from policies.compose._base import ComposeCheck, compose_meta, secret_paths, services
from policies.rules._k8s import as_list
from policies.rules._types import Result


def _volume_mounts(service: dict) -> list[tuple[str, str]]:
    """``(named volume, container path)`` of a service's named-volume mounts (long and short syntax)."""
    mounts = []
    for entry in as_list(service.get("volumes")):
        if isinstance(entry, dict) and entry.get("type", "volume") == "volume" and entry.get("source"):
            mounts.append((str(entry["source"]), str(entry.get("target", ""))))
        elif isinstance(entry, str) and ":" in entry and not entry.startswith(("/", ".", "~")):
            source, target = entry.split(":")[:2]
            mounts.append((source, target))
    return mounts


def _under(path: str, directory: str) -> bool:
    return bool(directory) and PurePosixPath(directory) in (PurePosixPath(path), *PurePosixPath(path).parents)


class SecretVolumeIsolation(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_029",
        name="Ensure a secret file lands in a volume no other service mounts",
        severity="HIGH",
        rationale=("Docker copies no file into a read-only root filesystem, so a Pulumi container receives its "
                   "secret files as uploads into a named volume mounted at (or above) the secret's path, and every "
                   "container mounting that volume reads them: a long-running server sharing the secrets volume of "
                   "a download step holds the HF token (issue #10). Each service that mounts a volume holding "
                   "another service's secret file must read that secret itself; give the secret a volume of its own."),
        reference="https://docs.docker.com/engine/storage/volumes/",
    )

    def evaluate(self, name, service, compose):
        mine = _volume_mounts(service)
        if not mine:
            return Result.judge(False, [])
        own = set(secret_paths(service))
        volumes = {volume for volume, _ in mine}
        problems = []
        for other, spec in sorted(services(compose).items()):
            if other == name:
                continue
            for volume, directory in _volume_mounts(spec):
                if volume not in volumes:
                    continue
                for path in secret_paths(spec):
                    if _under(path, directory) and path not in own:
                        problems.append(f"mounts volume {volume}, which holds {other}'s secret file {path}")
        return Result.judge(True, problems)


check = SecretVolumeIsolation()
