from policies.compose._base import ComposeCheck, compose_meta, env
from policies.rules import webui_signup as rule
from policies.rules._types import NA, Result
from policies.rules.webui_auth import is_chat_ui


class ComposeWebuiSignup(ComposeCheck):
    META = compose_meta(id="CKV_SLM_028", name=rule.META.name, severity=rule.META.severity,
                        rationale=rule.META.rationale, reference=rule.META.reference)

    def evaluate(self, name, service, compose):
        variables = env(service)
        if not is_chat_ui(service.get("image"), variables):
            return NA
        return Result.judge(True, rule.signup_problems(variables))


check = ComposeWebuiSignup()
