from policies.checks._adapter import SlmK8sCheck
from policies.rules import gpu_scheduling as rule


class GpuScheduling(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = GpuScheduling()
