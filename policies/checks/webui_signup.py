from policies.checks._adapter import SlmK8sCheck
from policies.rules import webui_signup as rule


class WebuiSignup(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = WebuiSignup()
