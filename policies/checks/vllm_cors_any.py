from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_cors_any as rule


class VllmCorsAny(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmCorsAny()
