from policies.compose._base import ComposeCheck, compose_meta, env, secret_paths
from policies.rules import webui_auth as rule
from policies.rules._types import NA, Result


class ComposeWebuiAuth(ComposeCheck):
    META = compose_meta(id="CKV_SLM_019", name=rule.META.name, severity=rule.META.severity,
                        rationale=rule.META.rationale + " In compose: a secret with target: /app/backend/.webui_secret_key (or "
                        "the WEBUI_SECRET_KEY_FILE path), or a secret file that the service's own entrypoint reads.",
                        reference=rule.META.reference)

    def evaluate(self, name, service, compose):
        variables = env(service)
        if not rule.is_chat_ui(service.get("image"), variables):
            return NA
        start = " ".join(_argv(service.get("entrypoint")) + _argv(service.get("command")))
        return Result.judge(True, rule.webui_problems(variables, secret_paths(service), start, service.get("image")))


def _argv(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


check = ComposeWebuiAuth()
