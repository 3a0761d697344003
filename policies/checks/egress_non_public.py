from policies.checks._adapter import SlmK8sCheck
from policies.rules import egress_non_public as rule


class EgressNonPublic(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = EgressNonPublic()
