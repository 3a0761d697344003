from policies.compose._base import ComposeCheck, compose_meta, env, labels
from policies.compose.ports import is_loopback, parse_port
from policies.rules._argv import argv_from_compose, flag_value, tokens
from policies.rules._identify import COMPOSE_ROLE_LABEL, is_model_server_image
from policies.rules._k8s import as_list, literal_env
from policies.rules._types import NA, Result


class ModelPortLoopback(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_010",
        name="Ensure Ollama/vLLM ports are published on loopback only, unless the service is the auth proxy",
        severity="CRITICAL",
        rationale=("Ollama has no authentication and vLLM's --api-key covers only /v1. A port published with "
                   "no host IP or 0.0.0.0 is reachable from the whole network (and bypasses host firewalls such "
                   "as ufw). Publish on 127.0.0.1 and let the service labelled slm-deploy.io/role: auth-proxy "
                   "be the only one published beyond it."),
        reference="https://docs.docker.com/engine/network/packet-filtering-firewalls/#port-publishing-and-mapping",
    )

    def evaluate(self, name, service, compose):
        if labels(service).get(COMPOSE_ROLE_LABEL) == "auth-proxy" or not is_model_server_image(service.get("image")):
            return NA
        problems = [f"port {p.raw} is published on {p.host_ip or 'all interfaces'}"
                    for p in map(parse_port, as_list(service.get("ports"))) if not is_loopback(p.host_ip)]
        if service.get("network_mode") == "host":
            bind = literal_env(env(service), "OLLAMA_HOST") or flag_value(
                tokens(argv_from_compose(service.get("command"))), "--host") or "0.0.0.0"
            if not is_loopback(bind.rsplit(":", 1)[0] if bind.count(":") == 1 else bind):
                problems.append(f"host networking with the server bound to {bind}")
        return Result.judge(True, problems)


check = ModelPortLoopback()
