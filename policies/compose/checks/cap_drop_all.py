from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._k8s import as_list
from policies.rules._types import Result


class CapDropAll(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_016",
        name="Ensure compose services drop ALL Linux capabilities",
        severity="MEDIUM",
        rationale=("Docker's default set keeps NET_RAW, CHOWN, SETUID and others that no model server needs; "
                   "cap_drop: [ALL] (re-adding only what is justified) limits a container escape."),
        reference="https://docs.docker.com/reference/compose-file/services/#cap_drop",
    )

    def evaluate(self, name, service, compose):
        dropped = {str(c).upper() for c in as_list(service.get("cap_drop"))}
        return Result.judge(True, [] if "ALL" in dropped else ["cap_drop does not contain ALL"])


check = CapDropAll()
