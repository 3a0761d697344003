from policies.compose._base import ComposeCheck, compose_meta, env
from policies.rules import _secrets
from policies.rules import secret_literals as rule
from policies.rules._argv import argv_from_compose
from policies.rules._types import Result


class ComposeSecretsAsFiles(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_013",
        name="Ensure the HF token and API keys are compose secrets mounted as files, not environment or argv",
        severity=rule.META.severity,
        rationale=rule.META.rationale + " In compose, declare top-level `secrets:` and mount them (/run/secrets).",
        reference="https://docs.docker.com/compose/how-tos/use-secrets/",
    )

    def evaluate(self, name, service, compose):
        argv = argv_from_compose(service.get("entrypoint")) + argv_from_compose(service.get("command"))
        return Result.judge(True, _secrets.env_problems(env(service)) + _secrets.argv_problems(argv))


check = ComposeSecretsAsFiles()
