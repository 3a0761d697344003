from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._types import Result


class ReadOnlyRoot(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_017",
        name="Ensure compose services run with a read-only root filesystem",
        severity="MEDIUM",
        rationale=("read_only: true keeps an attacker from persisting tools or altering the server; writable "
                   "state goes to named volumes or tmpfs (model cache, /tmp)."),
        reference="https://docs.docker.com/reference/compose-file/services/#read_only",
    )

    def evaluate(self, name, service, compose):
        return Result.judge(True, [] if service.get("read_only") in (True, "true") else ["read_only is not true"])


check = ReadOnlyRoot()
