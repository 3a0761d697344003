from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_speculative_model as rule


class VllmSpeculativeModel(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmSpeculativeModel()
