from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_dp_address as rule


class VllmDpAddress(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmDpAddress()
