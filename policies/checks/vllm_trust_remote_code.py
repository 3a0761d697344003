from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_trust_remote_code as rule


class VllmTrustRemoteCode(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmTrustRemoteCode()
