"""Every generated auth-proxy config in real nginx on 127.0.0.1 (see nginx_harness.py for the few
test-process rewrites): `nginx -t`, then live in front of a stand-in upstream. And the Docker secrets
README, followed literally, produces files their consumers accept."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.auth_proxy import key_map_line
from components.onnx_edge.server.server import load_api_keys
from nginx_harness import NGINX, RunningNginx, nginx_test, rewrite_for_test, start_upstream
from stacks.loader import load_stack, project_root
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render

KEY = "sk-Live.Key_0123$abcDEF{x}|y"  # mixed case and regex metacharacters: only exact bytes may pass
PROXIES = ("staging/phi4-mini-auth-proxy", "proxied/ollama", "cpu-proxied/ollama-auth-proxy")
"""Every single-key proxy config the reference stacks generate, plus the Docker proxy (the dev stack with
``ollama.authProxy: true``) and the Kubernetes Ollama proxy (the cpu stack with it on). prod's model servers sit behind its ModelGateway (no per-server proxy); the
gateway's nginx.conf is run by tests/gateway. test_every_generated_proxy_config_is_covered keeps this list complete."""
GATEWAY_CONFIGS = {"prod/gateway-files"}


def _proxied(root: Path, base: str, name: str, update: dict) -> Path:
    """Stack ``base`` with ``update`` merged into its ollama config (the auth proxy on), rendered as ``name``."""
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text((project_root() / "Pulumi.yaml").read_text())
    data = yaml.safe_load((project_root() / "stacks" / f"Pulumi.{base}.yaml").read_text())
    data["config"]["slm-deploy:ollama"].update(update)
    (root / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(data))
    out = root / "build"
    render(synth_stack(load_stack(name, root)), out)
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("proxy-builds")
    out = {}
    for stack in ("staging", "prod"):
        render(synth_stack(load_stack(stack)), root / stack)
        out[stack] = root / stack
    out["proxied"] = _proxied(root / "proxied", "dev", "proxied", {"authProxy": True, "publishAddress": "0.0.0.0"})
    out["cpu-proxied"] = _proxied(root / "cpu-proxied", "cpu", "cpu-proxied", {"authProxy": True})
    return out


def test_every_generated_proxy_config_is_covered(builds):
    found = set()
    for stack in ("dev", "edge", "cpu", "staging", "prod"):
        if stack in builds:
            found |= {f"{stack}/{p.parent.name}" for p in builds[stack].glob("files/*/nginx.conf")}
    for variant in ("proxied", "cpu-proxied"):
        found |= {f"{variant}/{p.parent.name}" for p in builds[variant].glob("files/*/nginx.conf")}
    assert found == set(PROXIES) | GATEWAY_CONFIGS


@pytest.fixture(scope="module")
def upstream():
    server = start_upstream()
    yield server
    server.close()


def _prepared(builds, proxy: str, work: Path, keys_text: str, upstream_port: int):
    stack, name = proxy.split("/")
    conf = (builds[stack] / "files" / name / "nginx.conf").read_text()
    work.mkdir(parents=True, exist_ok=True)
    keys = work / "keys.map"
    keys.write_text(keys_text)
    text, ports = rewrite_for_test(conf, work, keys, upstream_port)
    path = work / "nginx.conf"
    path.write_text(text)
    return path, ports


@pytest.mark.parametrize("proxy", PROXIES)
def test_nginx_accepts_every_generated_config(builds, proxy, tmp_path, upstream):
    path, _ = _prepared(builds, proxy, tmp_path, key_map_line(KEY), upstream.port)
    result = nginx_test(path)
    assert result.returncode == 0, result.stderr


def test_nginx_refuses_a_bare_key_file(builds, tmp_path, upstream):
    """What the old secrets README produced (`openssl rand -hex 32 > keys file`): nginx must refuse it,
    which is why the README now gives the map-line recipe."""
    path, _ = _prepared(builds, "proxied/ollama", tmp_path, "0123456789abcdef" * 4 + "\n", upstream.port)
    assert nginx_test(path).returncode != 0


@pytest.fixture(scope="module", params=PROXIES)
def proxy(request, builds, upstream, tmp_path_factory):
    work = tmp_path_factory.mktemp("nginx-" + request.param.replace("/", "-"))
    path, ports = _prepared(builds, request.param, work, key_map_line(KEY), upstream.port)
    nginx = RunningNginx(path, ports)
    nginx.name = request.param
    yield nginx
    alive = nginx.proc.poll() is None
    nginx.stop()
    assert alive, f"nginx died: {nginx.log.read_text()}"


def _chat(nginx, auth: str | None, body: bytes = b'{"messages": []}'):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    return nginx.request("POST", "/v1/chat/completions", headers=headers, body=body)


@pytest.mark.parametrize("auth", [
    None, "", "Bearer", "Bearer ", "Bearer wrong-key", f"Bearer {KEY.swapcase()}", f"Bearer {KEY.upper()}",
    f"Bearer {KEY.lower()}", f"bearer {KEY}", f"BEARER {KEY}", f"Bearer {KEY}x", f"Bearer {KEY[:-1]}",
    f"Bearer x{KEY}", f"Bearer  {KEY}", f"Bearer {KEY} Bearer {KEY}", f"Basic {KEY}",
    f"Bearer {KEY.replace('.', 'x')}",  # '.' must not act as a regex wildcard
], ids=lambda a: repr(a)[:40])
def test_anything_but_the_exact_key_is_401(proxy, upstream, auth):
    before = len(upstream.seen)
    status, headers, body = _chat(proxy, auth)
    assert status == 401, (proxy.name, auth, body)
    assert headers.get("www-authenticate", "").startswith("Bearer")
    assert headers.get("content-type") == "application/json" and b'"code":"invalid_api_key"' in body
    assert len(upstream.seen) == before  # nothing reached the model server


def test_the_exact_key_reaches_upstream_without_the_key(proxy, upstream):
    status, _, body = _chat(proxy, f"Bearer {KEY}")
    assert status == 200 and b'"upstream": true' in body, (proxy.name, body)
    seen = upstream.seen[-1]
    assert seen.path == "/v1/chat/completions"
    assert "authorization" not in seen.headers
    assert not any(KEY.lower() in v.lower() for v in seen.headers.values())


def test_health_is_open_and_never_forwards_a_key(proxy, upstream):
    assert proxy.request("GET", "/healthz")[0] == 200  # answered by nginx itself
    health = "/api/version" if "ollama" in proxy.name else "/health"
    status, _, _ = proxy.request("GET", health, headers={"Authorization": f"Bearer {KEY}"})
    assert status == 200 and upstream.seen[-1].path == health
    assert "authorization" not in upstream.seen[-1].headers


def test_metrics_are_not_reachable_on_the_public_port(proxy, upstream):
    before = len(upstream.seen)
    for auth in (None, f"Bearer {KEY}"):
        status, _, _ = proxy.request("GET", "/metrics", headers={"Authorization": auth} if auth else {})
        assert status in (401, 404), (auth, status)
    assert len(upstream.seen) == before
    if proxy.ports.metrics:  # the metrics listener forwards the metrics path, and nothing else
        assert proxy.request("GET", "/metrics", port=proxy.ports.metrics)[0] == 200
        assert upstream.seen[-1].path == "/metrics" and "authorization" not in upstream.seen[-1].headers
        assert proxy.request("GET", "/v1/models", port=proxy.ports.metrics,
                             headers={"Authorization": f"Bearer {KEY}"})[0] == 404


def test_bodies_within_the_limit_pass_and_larger_ones_are_413(proxy, upstream):
    limit = int(re.search(r"client_max_body_size (\d+)m;", proxy.log.parent.joinpath("nginx.conf").read_text())[1])
    status, _, body = _chat(proxy, f"Bearer {KEY}", body=b"x" * (1 << 20))
    assert status == 200 and upstream.seen[-1].body_len == 1 << 20
    status, _, _ = _chat(proxy, f"Bearer {KEY}", body=b"x" * ((limit << 20) + 1))
    assert status == 413
    assert _chat(proxy, f"Bearer {KEY}")[0] == 200  # and nginx still serves


# --------------------------------------------------------------------------- the secrets README, literally
def _readme_recipes(readme: str) -> dict[str, str]:
    """`## secrets/<name>` sections -> their sh code block."""
    return dict(re.findall(r"^## `secrets/([^`]+)`\n.*?```sh\n(.*?)```", readme, flags=re.MULTILINE | re.DOTALL))


def test_following_the_secrets_readme_gives_files_their_consumers_accept(builds, tmp_path, upstream):
    build = builds["proxied"]
    compose = yaml.safe_load((build / "compose.yaml").read_text())
    recipes = _readme_recipes((build / "secrets" / "README.md").read_text())
    assert set(recipes) == set(compose["secrets"])
    work = tmp_path / "compose-dir"
    (work / "secrets").mkdir(parents=True)
    printed = {}
    for name, script in recipes.items():
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, (name, run.stderr)
        printed[name] = run.stdout
        assert (work / "secrets" / name).stat().st_mode & 0o077 == 0  # readable only by the owner
    assert len((work / "secrets" / "ollama-webui-webui_secret_key").read_text().strip()) >= 32
    # The proxy's keys file: nginx loads it, and the key the recipe printed is the one that gets through.
    key = re.search(r"API key for clients: (\S+)", printed["ollama-auth-proxy-keys-map"])[1]
    nginx_work = tmp_path / "nginx"
    path, ports = _prepared(builds, "proxied/ollama", nginx_work,
                            (work / "secrets" / "ollama-auth-proxy-keys-map").read_text(), upstream.port)
    assert nginx_test(path).returncode == 0
    nginx = RunningNginx(path, ports)
    try:
        assert _chat(nginx, f"Bearer {key}")[0] == 200
        assert _chat(nginx, f"Bearer {key.upper()}")[0] == 401
    finally:
        nginx.stop()


def test_the_edge_secrets_readme_key_file_loads_in_the_edge_server(tmp_path):
    build = tmp_path / "edge"
    render(synth_stack(load_stack("edge")), build)
    recipes = _readme_recipes((build / "secrets" / "README.md").read_text())
    (tmp_path / "secrets").mkdir()
    for name, script in recipes.items():
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
    (api_key_file,) = [n for n in recipes if n.endswith("api-key")]
    assert len(load_api_keys(str(tmp_path / "secrets" / api_key_file))) == 1


def test_nginx_is_installed():
    assert NGINX, "nginx not installed: `./dev test` installs Debian's nginx"
