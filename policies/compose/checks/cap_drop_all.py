from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._k8s import as_list
from policies.rules._types import Result

# The only capability a compose service may add back after dropping ALL: binding a port below 1024
# (an auth proxy on :443/:80). Everything else (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, NET_RAW, DAC_OVERRIDE,
# ALL, ...) widens a container escape and no model server, UI or proxy here needs it.
ALLOWED_CAP_ADD = frozenset({"NET_BIND_SERVICE"})


def _cap(value: object) -> str:
    return str(value).strip().upper().removeprefix("CAP_")


class CapDropAll(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_016",
        name="Ensure compose services drop ALL Linux capabilities and add back none but NET_BIND_SERVICE",
        severity="MEDIUM",
        rationale=("Docker's default set keeps NET_RAW, CHOWN, SETUID and others that no model server needs; "
                   "cap_drop: [ALL] limits a container escape, and it is undone by cap_add. cap_add may list "
                   "only NET_BIND_SERVICE (a proxy binding a port below 1024); SYS_ADMIN, NET_ADMIN, SYS_PTRACE, "
                   "ALL or any other added capability fails."),
        reference="https://docs.docker.com/reference/compose-file/services/#cap_add",
    )

    def evaluate(self, name, service, compose):
        dropped = {_cap(c) for c in as_list(service.get("cap_drop"))}
        problems = [] if "ALL" in dropped else ["cap_drop does not contain ALL"]
        added = sorted({_cap(c) for c in as_list(service.get("cap_add"))} - ALLOWED_CAP_ADD)
        if added:
            problems.append(f"cap_add adds {', '.join(added)} (allowed: {', '.join(sorted(ALLOWED_CAP_ADD))})")
        return Result.judge(True, problems)


check = CapDropAll()
