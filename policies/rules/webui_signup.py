"""CKV_SLM_027: Open WebUI lets nobody create an account, or holds new accounts as pending."""
from __future__ import annotations

from policies.rules._k8s import WORKLOAD_KINDS, EnvVar, container_env, judge_containers, literal_env
from policies.rules._types import CheckMeta, Result
from policies.rules.webui_auth import is_chat_ui

META = CheckMeta(
    id="CKV_SLM_027",
    name="Ensure Open WebUI does not let visitors sign up into working accounts (ENABLE_SIGNUP false, or DEFAULT_USER_ROLE pending)",
    severity="HIGH",
    rationale=(
        "With sign-up on, anyone who reaches the web UI creates an account; with DEFAULT_USER_ROLE other than "
        "'pending' that account can use every model at once, so the UI becomes an open model endpoint. Open "
        "WebUI's own defaults are ENABLE_SIGNUP=True and DEFAULT_USER_ROLE=pending (open_webui/config.py), so an "
        "unset ENABLE_SIGNUP counts as on. Sign-up with pending accounts (an admin activates each) passes; "
        "anything else needs a reviewed waiver."
    ),
    reference="https://docs.openwebui.com/getting-started/env-configuration/#enable_signup",
    framework="kubernetes",
    kinds=WORKLOAD_KINDS,
)

_TRUE = {"true", "1", "yes", "on"}


def signup_problems(env: list[EnvVar]) -> list[str]:
    """Shared by the Kubernetes and compose checks."""
    signup = literal_env(env, "ENABLE_SIGNUP")
    role = literal_env(env, "DEFAULT_USER_ROLE")
    signup_on = signup is None or signup.strip().lower() in _TRUE
    role = (role or "pending").strip().lower()
    if signup_on and role != "pending":
        shown = "unset (Open WebUI's default: True)" if signup is None else repr(signup)
        return [f"ENABLE_SIGNUP {shown} with DEFAULT_USER_ROLE {role!r}: visitors get working accounts"]
    return []


def evaluate(obj: dict) -> Result:
    return judge_containers(obj, lambda c, _spec: signup_problems(container_env(c))
                            if is_chat_ui(c.get("image"), container_env(c)) else None, init=False)
