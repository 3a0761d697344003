from policies.checks._adapter import SlmK8sCheck
from policies.rules import exposure as rule


class ModelServerExposure(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = ModelServerExposure()
