from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_shm as rule


class VllmDevShm(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmDevShm()
