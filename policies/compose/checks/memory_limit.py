from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._k8s import as_dict
from policies.rules._types import Result


class MemoryLimit(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_018",
        name="Ensure compose services set a memory limit",
        severity="MEDIUM",
        rationale=("A model that does not fit grows until the host OOM killer picks a victim, possibly "
                   "sshd or the Docker daemon; mem_limit or deploy.resources.limits.memory contains it."),
        reference="https://docs.docker.com/reference/compose-file/deploy/#resources",
    )

    def evaluate(self, name, service, compose):
        limit = service.get("mem_limit") or as_dict(as_dict(as_dict(service.get("deploy")).get("resources")).get(
            "limits")).get("memory")
        return Result.judge(True, [] if limit else ["no mem_limit / deploy.resources.limits.memory"])


check = MemoryLimit()
