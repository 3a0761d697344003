"""Key rotation on Docker, following docs/gateway.md "Rotation on Docker": the compose export mounts the keys file
``secrets/<proxy>-clients-keys`` into the proxy as a file bind mount, and the procedure overwrites that file in
place. Real nginx + njs with the Docker proxy's generated files on 127.0.0.1, the keys file bind-mounted in
nginx's own mount namespace as compose does; behaviour only (the timings are scripts/docker_rotation_benchmark.py's,
written to docs/benchmarks.md)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from components.auth_proxy import NAMED_CONF_DIR
from components.gateway.proxy import keys_file_text
from components.ollama.args import OllamaStackArgs
from components.ollama.docker_files import auth_proxy_files
from stacks.loader import project_root
from stacks.schema import PROJECT

from .harness import StandIn, request, require_tools
from .named_proxy import NamedProxy

PHI = "phi4-mini:3.8b-q4_K_M"
OLD, NEW = "sk-Old-AbCdEf0123456789-xyzXYZ-0001", "sk-New-9876543210-abcABC-qrsQRS-0002"


def docker_proxy_files() -> dict[str, str]:
    """The Docker auth proxy's files exactly as the dev stack renders them with named clients."""
    ollama = yaml.safe_load((project_root() / "stacks" / "Pulumi.dev.yaml").read_text())["config"][f"{PROJECT}:ollama"]
    args = OllamaStackArgs.model_validate({**ollama, "authProxy": True, "apiClients": [
        {"name": "chat-app", "models": [PHI], "rpm": 60000, "concurrency": 64}]})
    return auth_proxy_files(args)


@pytest.fixture
def proxy(tmp_path):
    require_tools()
    stand_in = StandIn("ollama", stream_gap=0.3)
    secret = tmp_path / "secrets" / "ollama-auth-proxy-clients-keys"  # the compose export's file secret
    secret.parent.mkdir()
    running = NamedProxy(tmp_path / "nginx", docker_proxy_files(), conf_dir=NAMED_CONF_DIR,
                         keys_file=f"{NAMED_CONF_DIR}/clients.keys", upstream_port=stand_in.port,
                         keys={"chat-app": [OLD]}, keys_bind_source=secret)
    try:
        yield running
    finally:
        running.stop()
        stand_in.close()


def _chat(proxy: NamedProxy, key: str, **extra) -> tuple[int, bytes]:
    status, _, body = request(proxy.url + "/v1/chat/completions", key=key,
                              body={"model": PHI, "messages": [{"role": "user", "content": "hi"}], **extra})
    return status, body


def test_overwriting_the_secret_file_in_place_rotates_without_a_restart(proxy):
    """The documented procedure: the new key works and the old one is refused on the next requests, and a stream
    that started with the old key before the overwrite completes."""
    assert _chat(proxy, OLD)[0] == 200 and _chat(proxy, NEW)[0] == 401
    pid = proxy.nginx.proc.pid
    stream: dict = {}
    thread = threading.Thread(target=lambda: stream.update(zip(("status", "body"), _chat(proxy, OLD, stream=True))))
    thread.start()
    time.sleep(0.2)  # the stream is running (3 chunks, 0.3 s apart)
    with proxy.keys_source.open("w") as fh:  # `cat new > secrets/...`: same file, new content
        fh.write(keys_file_text({"chat-app": [NEW]}))
    assert _chat(proxy, NEW)[0] == 200
    status, body = _chat(proxy, OLD)
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
    thread.join(timeout=30)
    assert stream["status"] == 200 and stream["body"].rstrip().endswith(b"data: [DONE]"), stream
    assert stream["body"].count(b"chat.completion.chunk") == 3  # every chunk arrived
    assert proxy.nginx.proc.poll() is None and proxy.nginx.proc.pid == pid  # no restart, no reload


def test_a_secret_file_replaced_by_rename_is_not_seen_through_the_bind_mount(proxy):
    """Why the procedure says *in place*: `mv new secrets/...` gives the host path a new file, but the bind mount
    still holds the old one, so the revoked key keeps working and the new one is refused."""
    staged = proxy.keys_source.with_suffix(".new")
    staged.write_text(keys_file_text({"chat-app": [NEW]}))
    staged.replace(proxy.keys_source)
    assert Path(proxy.keys_source).read_text() == keys_file_text({"chat-app": [NEW]})
    assert _chat(proxy, OLD)[0] == 200 and _chat(proxy, NEW)[0] == 401
