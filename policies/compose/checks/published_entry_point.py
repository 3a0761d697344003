"""CKV_SLM_036 (compose): only a stack's entry point publishes host ports.

Entry points: services labelled ``slm-deploy.io/role`` ``auth-proxy`` (the API-key proxy) or ``webui-proxy``
(Open WebUI's proxy), and a model server that no proxy stands in front of (no entry proxy shares a network with
it; CKV_SLM_010 then keeps its ports on loopback). Everything else publishes nothing: Open WebUI (always
behind its proxy), a model server behind a proxy, download and pull steps, anything unrecognised. Host
networking counts as publishing every port the container listens on.
"""
from policies.compose._base import ComposeCheck, compose_meta, labels, services
from policies.rules._identify import COMPOSE_ROLE_LABEL, has_model_server_label, is_chat_ui_image, is_model_server_image
from policies.rules._k8s import as_dict, as_list
from policies.rules._types import Result

ENTRY_ROLES = ("auth-proxy", "webui-proxy")
MODEL_SERVER_ROLE = "model-server"


def _networks(service: dict) -> set[str]:
    raw = service.get("networks")
    names = set(as_dict(raw)) if isinstance(raw, dict) else {str(n) for n in as_list(raw)}
    return names or {"default"}  # compose puts a service without networks on the project's default network


def _is_model_server(service: dict) -> bool:
    return (is_model_server_image(service.get("image")) or labels(service).get(COMPOSE_ROLE_LABEL) == MODEL_SERVER_ROLE
            or has_model_server_label(labels(service)))


def _entry(service: dict) -> bool:
    return labels(service).get(COMPOSE_ROLE_LABEL) in ENTRY_ROLES


class PublishedEntryPoint(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_036",
        name="Ensure only a stack's entry point (its auth proxy, web UI proxy or unproxied model server) publishes host ports",
        severity="HIGH",
        rationale=("A published port is reachable from the host and, unless bound to loopback, from the network, "
                   "past whatever the stack put in front: Open WebUI published directly skips its proxy; a model "
                   "server behind the API-key proxy that also publishes its own port makes the key optional; a "
                   "download step or an unrecognised container publishing a port is a way in nobody reviewed. "
                   "Only the services labelled slm-deploy.io/role auth-proxy or webui-proxy, and a model server "
                   "with no proxy in front (on no network with one), may publish; the rest join internal networks."),
        reference="https://docs.docker.com/engine/network/#published-ports",
    )

    def evaluate(self, name, service, compose):
        published = [str(p) if not isinstance(p, dict) else f"{p.get('published')}:{p.get('target')}"
                     for p in as_list(service.get("ports"))]
        if service.get("network_mode") == "host":
            published.append("every port (network_mode: host)")
        if not published:
            return Result.judge(False, [])  # publishes nothing: nothing to judge
        if _entry(service):
            return Result.judge(True, [])
        if is_chat_ui_image(service.get("image")) or labels(service).get(COMPOSE_ROLE_LABEL) == "chat-ui":
            return Result.judge(True, [f"Open WebUI publishes {', '.join(published)}: only its webui-proxy may"])
        if _is_model_server(service):
            fronts = sorted(other for other, spec in services(compose).items()
                            if other != name and _entry(spec) and _networks(spec) & _networks(service))
            if not fronts:
                return Result.judge(True, [])  # no proxy in front: it is the entry point (CKV_SLM_010 judges where)
            return Result.judge(True, [f"publishes {', '.join(published)} although {', '.join(fronts)} stands in "
                                       "front of it: only the proxy may publish"])
        return Result.judge(True, [f"publishes {', '.join(published)} but is no entry point (auth-proxy, webui-proxy "
                                   "or an unproxied model server)"])


check = PublishedEntryPoint()
