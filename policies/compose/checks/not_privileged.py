from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._types import Result


class NotPrivileged(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_014",
        name="Ensure compose services are not privileged",
        severity="HIGH",
        rationale=("privileged: true gives the container every capability and all host devices; a compromised "
                   "model server or UI becomes root on the Docker host. GPUs are granted with "
                   "deploy.resources.reservations.devices instead."),
        reference="https://docs.docker.com/reference/compose-file/services/#privileged",
    )

    def evaluate(self, name, service, compose):
        return Result.judge(True, ["privileged: true"] if service.get("privileged") in (True, "true") else [])


check = NotPrivileged()
