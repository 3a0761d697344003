from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._types import Result

HOST_NAMESPACE_KEYS = ("network_mode", "pid", "ipc", "uts", "userns_mode")


class NoHostNamespaces(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_015",
        name="Ensure compose services do not share the host network, PID, IPC, UTS or user namespace",
        severity="HIGH",
        rationale=("network_mode: host binds the engine straight onto every host interface (publishing rules "
                   "and loopback-only ports no longer apply); pid/ipc: host expose host processes and memory."),
        reference="https://docs.docker.com/reference/compose-file/services/#network_mode",
    )

    def evaluate(self, name, service, compose):
        return Result.judge(True, [f"{k}: host" for k in HOST_NAMESPACE_KEYS if service.get(k) == "host"])


check = NoHostNamespaces()
