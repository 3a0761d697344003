"""Open WebUI settings and environment, shared by the Docker and Kubernetes targets.

Authentication stays on, sign-up is off, telemetry is off. With sign-up off, Open WebUI 0.6.36
refuses every sign-up, the very first one included, unless ENABLE_INITIAL_ADMIN_SIGNUP is true
(``open_webui/routers/auths.py:575-586``); with it, exactly the first account can be created and becomes
the admin (``auths.py:602``), and every later sign-up is refused. Evidence: docs/ollama.md.

The session-signing key (WEBUI_SECRET_KEY) is a file, on both targets the same one: the Secret (Kubernetes)
or the uploaded secret file (Docker, a small volume of its own) at :data:`WEBUI_KEY_FILE`, announced to
upstream's start script through ``WEBUI_SECRET_KEY_FILE`` (0.6.36 ``backend/start.sh:17-21``; it reads the file
at ``:25-35`` because the image sets ``WEBUI_SECRET_KEY=""``, ``Dockerfile:75``). The container runs the image's
own command (``bash start.sh``, ``Dockerfile:191``): no entrypoint of ours touches the key.

What this achieves: the key is in no container configuration, not in a manifest, compose.yaml, ``docker
inspect``, ``kubectl describe`` or the container's Pulumi inputs (only the secret file, which the synth redacts
by type). What it does not: start.sh hands the key to uvicorn as an environment variable (``start.sh:83``,
``WEBUI_SECRET_KEY="$WEBUI_SECRET_KEY" exec python -m uvicorn``), because 0.6.36 reads it from
``os.environ`` only (``open_webui/env.py:441-446``), so it is in the environment of the Open WebUI *process*
(``/proc/<pid>/environ``: that uid and root inside the container). Evidence and file:line: docs/ollama.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.base import ArgsModel
from components.context import ClientSelector
from components.validation import CpuQuantity, HostPort, StorageQuantity

__all__ = [
    "WEBUI_PORT",
    "WEBUI_DATA_DIR",
    "WEBUI_SECRET_DIR",
    "WEBUI_KEY_FILE",
    "WebUiSettings",
    "webui_environment",
]

WEBUI_PORT = 8080
WEBUI_DATA_DIR = "/app/backend/data"
WEBUI_SECRET_DIR = "/run/secrets/open-webui"
"""Where the key's Secret (Kubernetes) or secrets volume (Docker) is mounted, read-only, in the web UI alone."""
WEBUI_KEY_FILE = f"{WEBUI_SECRET_DIR}/webui_secret_key"
"""The key file, on both targets; ``WEBUI_SECRET_KEY_FILE`` points start.sh at it."""


class WebUiSettings(ArgsModel):
    """Open WebUI, the chat UI in front of Ollama."""

    enabled: bool = Field(default=True, description="Deploy Open WebUI. Default true: the dev path is a chat UI on a laptop.")
    host_port: HostPort = Field(default=3000, alias="hostPort", description="Docker target: host port the UI is published on (on publishAddress), by its entry proxy: Open WebUI itself publishes nothing. Default 3000, Open WebUI's documented port.")
    enable_signup: bool = Field(default=False, alias="enableSignup", description="ENABLE_SIGNUP: let visitors create accounts. Default false: nobody signs up; the admin (see initialAdminSignup) adds users.")
    initial_admin_signup: bool = Field(default=True, alias="initialAdminSignup", description="ENABLE_INITIAL_ADMIN_SIGNUP: with sign-up off, still allow the very first account, which becomes the admin; every later sign-up is refused. Default true: without it Open WebUI 0.6.36 refuses even the first account and a fresh install has no admin. Create the admin right after the first start (until then, whoever reaches the UI first becomes admin). False only where the admin is provisioned otherwise.")
    default_user_role: Literal["pending", "user"] = Field(default="pending", alias="defaultUserRole", description="DEFAULT_USER_ROLE for accounts created when sign-up is on. Default pending: an admin approves each one.")
    name: str = Field(default="slm-deploy chat", min_length=1, max_length=64, description="WEBUI_NAME shown in the browser. Default 'slm-deploy chat'.")
    memory_mb: int = Field(default=2048, ge=512, alias="memoryMb", description="Memory limit in MiB. Default 2048: Open WebUI idles near 1 GiB and loads an embedding model for RAG.")
    cpu: CpuQuantity = Field(default="1", description="Kubernetes CPU request/limit. Default 1 core.")
    storage_size: StorageQuantity = Field(default="5Gi", alias="storageSize", description="Kubernetes PVC size for /app/backend/data (SQLite, uploads, vector store). Default 5Gi.")
    clients: list[ClientSelector] = Field(default_factory=list, description="Kubernetes target: the only pods (podLabels, optionally in namespaces with namespaceLabels) whose traffic the UI's NetworkPolicy admits on 8080, e.g. your ingress controller's pods. Default none: nothing in the cluster reaches the UI (kubectl port-forward still does); name the ingress that publishes it.")


def webui_environment(settings: WebUiSettings, ollama_url: str) -> dict[str, str]:
    """Environment for the Open WebUI container: no secrets, only settings (and where the key file is)."""
    return {
        "WEBUI_SECRET_KEY_FILE": WEBUI_KEY_FILE,
        "OLLAMA_BASE_URL": ollama_url,
        "WEBUI_AUTH": "True",
        "ENABLE_SIGNUP": str(settings.enable_signup),
        "ENABLE_INITIAL_ADMIN_SIGNUP": str(settings.initial_admin_signup),
        "DEFAULT_USER_ROLE": settings.default_user_role,
        "WEBUI_NAME": settings.name,
        "ENABLE_OPENAI_API": "False",
        "ANONYMIZED_TELEMETRY": "false",
        "DO_NOT_TRACK": "true",
        "SCARF_NO_ANALYTICS": "true",
        "ENABLE_VERSION_UPDATE_CHECK": "False",
        "DATA_DIR": WEBUI_DATA_DIR,
        "PORT": str(WEBUI_PORT),
    }

