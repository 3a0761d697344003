from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._types import Result

# Same bar as checkov's CKV_K8S_40 (runAsUser >= 10000) and the components' dockerUser validator:
# a UID that cannot collide with a host account (system users < 1000, regular users from 1000).
MIN_UID = 10000


def user_problems(user: object) -> list[str]:
    """Problems with a compose/docker ``user`` value (``uid``, ``uid:gid``, ``name`` or ``name:group``)."""
    if user is None or str(user).strip() == "":
        return ["no user: the image's default user runs (root for most images, including ollama/ollama and "
                f"open-webui); set user: '<uid>:<gid>' with uid >= {MIN_UID}"]
    uid = str(user).strip().split(":", 1)[0]
    if uid in ("root", "0"):
        return [f"user {user} runs as root"]
    if not uid.isdigit():
        return [f"user {user} is a name: its UID comes from the image's /etc/passwd and cannot be verified "
                f"here; use a numeric uid >= {MIN_UID}"]
    if int(uid) < MIN_UID:
        return [f"user {user}: uid {int(uid)} is below {MIN_UID} and may collide with a host account"]
    return []


class NonRootUser(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_020",
        name=f"Ensure compose services run as a non-root user with a numeric UID >= {MIN_UID}",
        severity="HIGH",
        rationale=("Without user: the container runs as the image's default user, root for Ollama and Open "
                   "WebUI; with the default (no user namespace remapping) that is root on the host if the "
                   "container is escaped, and it owns every writable volume. A numeric uid >= 10000 (the "
                   "compose twin of CKV_K8S_23/CKV_K8S_40) is verifiable without the image and cannot collide "
                   "with a host account. A component that must keep root records a runAsNonRoot opt-out "
                   "with its reason, which the gate reports as a waiver."),
        reference="https://docs.docker.com/reference/compose-file/services/#user",
    )

    def evaluate(self, name, service, compose):
        return Result.judge(True, user_problems(service.get("user")))


check = NonRootUser()
