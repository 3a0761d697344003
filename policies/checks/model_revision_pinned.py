from policies.checks._adapter import SlmK8sCheck
from policies.rules import model_revision as rule


class ModelRevisionPinned(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = ModelRevisionPinned()
