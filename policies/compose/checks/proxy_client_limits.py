"""CKV_SLM_032 on Docker targets: every named client of a compose service's nginx proxy has limits.

The same rule as the Kubernetes check (:mod:`policies.rules.gateway_client_limits`), on the nginx
configurations a service mounts as compose configs (the auth proxy's generated ``files/<component>/nginx.conf``;
the gate reads ``file:`` configs relative to the compose file, as ``docker compose`` does).
"""
from policies.compose._base import ComposeCheck, config_texts
from policies.rules import gateway_client_limits as rule


class ComposeProxyClientLimits(ComposeCheck):
    META = rule.COMPOSE_META

    def evaluate(self, name, service, compose):
        return rule.evaluate_texts(config_texts(service, compose))


check = ComposeProxyClientLimits()
