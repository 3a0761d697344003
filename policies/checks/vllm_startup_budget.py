from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_startup_probe as rule


class VllmStartupBudget(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmStartupBudget()
