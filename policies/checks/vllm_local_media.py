from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_local_media as rule


class VllmLocalMedia(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmLocalMedia()
