from policies.compose._base import ComposeCheck, compose_meta
from policies.rules import model_revision as rule
from policies.rules._argv import argv_from_compose
from policies.rules._types import Result


class ComposeModelRevision(ComposeCheck):
    META = compose_meta(id="CKV_SLM_012", name=rule.META.name, severity=rule.META.severity,
                        rationale=rule.META.rationale, reference=rule.META.reference)

    def evaluate(self, name, service, compose):
        argv = argv_from_compose(service.get("entrypoint")) + argv_from_compose(service.get("command"))
        applicable, problems = rule.argv_problems(service.get("image"), argv)
        return Result.judge(applicable, problems)


check = ComposeModelRevision()
