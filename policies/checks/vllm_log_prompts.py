from policies.checks._adapter import SlmK8sCheck
from policies.rules import vllm_log_prompts as rule


class VllmLogPrompts(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = VllmLogPrompts()
