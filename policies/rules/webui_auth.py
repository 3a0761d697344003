"""CKV_SLM_005: Open WebUI keeps auth on and reads WEBUI_SECRET_KEY from a mounted secret file."""
from __future__ import annotations

from policies.rules._identify import WEBUI_KEY_PATH, image_version, is_chat_ui_image
from policies.rules._k8s import (
    WORKLOAD_KINDS, EnvVar, container_env, judge_containers, literal_env, path_covered, secret_mount_paths,
)
from policies.rules._types import CheckMeta, Result

META = CheckMeta(
    id="CKV_SLM_005",
    name="Ensure Open WebUI keeps authentication on and reads its secret key from a mounted secret file",
    severity="HIGH",
    rationale=(
        "WEBUI_AUTH=false turns the chat UI (and the models behind it) into an open endpoint. The session "
        "signing key must not sit in the container's env: upstream backend/start.sh reads it, when "
        "WEBUI_SECRET_KEY is unset, from the file WEBUI_SECRET_KEY_FILE names (0.6.14 and later; default "
        "/app/backend/.webui_secret_key), and otherwise generates a random key per container (breaking "
        "sessions across replicas, and failing on a read-only root filesystem). Mount the Secret at that path."
    ),
    reference="https://github.com/open-webui/open-webui/blob/main/backend/start.sh",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)

FALSE_VALUES = {"false", "0", "no", "off"}
KEY_VARS = ("WEBUI_SECRET_KEY", "WEBUI_JWT_SECRET_KEY")
KEY_FILE_VAR_SINCE = (0, 6, 14)
"""start.sh honours WEBUI_SECRET_KEY_FILE from Open WebUI 0.6.14 on (CHANGELOG.md:870-883 in the 0.6.36 sdist;
0.6.36 backend/start.sh:17-21); older images read only /app/backend/.webui_secret_key."""


def is_chat_ui(image: object, env: list[EnvVar]) -> bool:
    return is_chat_ui_image(image) or any(v.name in ("WEBUI_AUTH",) + KEY_VARS for v in env)


def webui_problems(env: list[EnvVar], secret_paths: list[str], start_command: str = "", image: object = None) -> list[str]:
    """Shared by the Kubernetes and compose checks.

    The key must come from a secret file: mounted where upstream start.sh reads it (``WEBUI_SECRET_KEY_FILE``
    on images >= 0.6.14, else the default path), or at a secret path that the container's own start command
    reads (a wrapper that exports the key from the file before exec'ing start.sh).
    """
    problems = []
    auth = literal_env(env, "WEBUI_AUTH")
    if auth is not None and auth.strip().lower() in FALSE_VALUES:
        problems.append(f"WEBUI_AUTH={auth!r} disables authentication")
    for var in env:
        if var.name in KEY_VARS:
            problems.append(f"{var.name} is set in env ({var.source}); mount the key as a file instead")
    # start.sh reads WEBUI_SECRET_KEY_FILE when set (from 0.6.14 on), else .webui_secret_key in /app/backend; an
    # image whose version is unknown or older must have the default path covered too.
    custom = literal_env(env, "WEBUI_SECRET_KEY_FILE")
    version = image_version(image)
    honours_custom = custom and version is not None and version >= KEY_FILE_VAR_SINCE
    wanted = [custom] if honours_custom else [WEBUI_KEY_PATH] + ([custom] if custom else [])
    if any(path in start_command for path in secret_paths):
        return problems
    for path in wanted:
        if not path_covered(path, secret_paths):
            problems.append(f"the secret key file {path} is not mounted from a secret")
    return problems


def _container_problems(c: dict, spec: dict) -> list[str] | None:
    env = container_env(c)
    if not is_chat_ui(c.get("image"), env):
        return None
    start = " ".join(str(a) for a in (c.get("command") or []) + (c.get("args") or []))
    return webui_problems(env, secret_mount_paths(c, spec), start, c.get("image"))


def evaluate(obj: dict) -> Result:
    return judge_containers(obj, _container_problems, init=False)
