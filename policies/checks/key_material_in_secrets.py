from policies.checks._adapter import SlmK8sCheck
from policies.rules import key_material as rule


class KeyMaterialInSecrets(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = KeyMaterialInSecrets()
