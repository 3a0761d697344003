from policies.checks._adapter import SlmK8sCheck
from policies.rules import gateway_client_limits as rule


class GatewayClientLimits(SlmK8sCheck):
    META = rule.META
    RULE = staticmethod(rule.evaluate)


check = GatewayClientLimits()
