from policies.checks._adapter import SlmK8sCheck
from policies.rules import secret_literals as rule


class SecretsAsFiles(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = SecretsAsFiles()
