from policies.checks._adapter import SlmK8sCheck
from policies.rules import webui_auth as rule


class WebuiAuthSecretFile(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = WebuiAuthSecretFile()
