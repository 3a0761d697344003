"""The cache-fill verifier runs for real (as the Job runs it: a python3 process) on files this test creates,
against a stand-in hub API on 127.0.0.1 or a manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.lifecycle.scripts import SCRIPTS_DIR
from standin_http import Reply, serve

SCRIPT = SCRIPTS_DIR / "verify_download.py"
REPO = "acme/tiny-model"
REV = "0123456789abcdef0123456789abcdef01234567"
WEIGHTS = bytes(range(256)) * 4096  # 1 MiB, an "LFS" file
CONFIG = b'{"architectures": ["LlamaForCausalLM"]}\n'


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def listing(files: dict[str, bytes], lfs: set[str]) -> dict:
    siblings = []
    for path, data in files.items():
        entry = {"rfilename": path, "size": len(data), "blobId": git_oid(data)}
        if path in lfs:
            entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        siblings.append(entry)
    return {"id": REPO, "sha": REV, "siblings": siblings}


PUBLISHED = {"model.safetensors": WEIGHTS, "config.json": CONFIG, "original/consolidated.pth": b"x" * 64}
LFS = {"model.safetensors", "original/consolidated.pth"}


def snapshot(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """The hub-cache layout hf download writes: blobs + a snapshot of symlinks."""
    cache = tmp_path / "hub"
    repo_dir = cache / f"models--{REPO.replace('/', '--')}"
    snap = repo_dir / "snapshots" / REV
    (repo_dir / "blobs").mkdir(parents=True)
    for path, data in files.items():
        blob = repo_dir / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        target = snap / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(blob)
    return cache


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


def hub(body: dict):
    def route(req):
        if req.path == f"/api/models/{REPO}/revision/{REV}?blobs=true":
            return Reply(200, body)
        return Reply(404, {"error": "not found"})
    return serve(route)


INCLUDE = ["--include", "*.safetensors", "*.json"]


def test_match_passes_and_checks_lfs_sha256_and_git_blob_ids(tmp_path):
    cache = snapshot(tmp_path, {k: v for k, v in PUBLISHED.items() if not k.startswith("original/")})
    token = tmp_path / "token"
    token.write_text("hf_secret_token\n")
    with hub(listing(PUBLISHED, LFS)) as standin:
        done = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache), *INCLUDE,
                   env={"HF_ENDPOINT": standin.url, "HF_TOKEN_PATH": str(token)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verify: ok model.safetensors (1048576 bytes, sha256)" in done.stdout
    assert "verify: ok config.json (40 bytes, git blob id)" in done.stdout
    assert "consolidated.pth" not in done.stdout  # excluded by the include patterns, as hf download excludes it
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary == {"failed": 0, "files": 2, "repo": REPO, "revision": REV, "source": "hub",
                       "verifiedBytes": len(WEIGHTS) + len(CONFIG)}
    assert standin.seen[0].headers["authorization"] == "Bearer hf_secret_token"


def test_flipped_byte_in_an_lfs_file_fails(tmp_path):
    flipped = bytearray(WEIGHTS)
    flipped[4242] ^= 0x01
    cache = snapshot(tmp_path, {"model.safetensors": bytes(flipped), "config.json": CONFIG})
    with hub(listing(PUBLISHED, LFS)) as standin:
        done = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache), *INCLUDE, env={"HF_ENDPOINT": standin.url})
    assert done.returncode == 1
    expected = hashlib.sha256(WEIGHTS).hexdigest()
    line = next(x for x in done.stdout.splitlines() if x.startswith("verify: FAIL model.safetensors"))
    assert f"!= published {expected}" in line and f"({REPO}@{REV})" in line
    assert "verify: FAIL 1 of 2 files do not match" in done.stdout


def test_flipped_byte_in_a_small_file_fails_on_its_git_blob_id(tmp_path):
    cache = snapshot(tmp_path, {"model.safetensors": WEIGHTS, "config.json": CONFIG.replace(b"Llama", b"Lla-a")})
    with hub(listing(PUBLISHED, LFS)) as standin:
        done = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache), *INCLUDE, env={"HF_ENDPOINT": standin.url})
    assert done.returncode == 1
    assert f"verify: FAIL config.json: git blob id {git_oid(CONFIG.replace(b'Llama', b'Lla-a'))} != published {git_oid(CONFIG)}" in done.stdout


@pytest.mark.parametrize("files, reason", [
    ({"config.json": CONFIG}, "verify: FAIL model.safetensors: missing"),
    ({"model.safetensors": WEIGHTS[:-1], "config.json": CONFIG}, f"verify: FAIL model.safetensors: size {len(WEIGHTS) - 1} != published {len(WEIGHTS)}"),
])
def test_missing_or_truncated_files_fail(tmp_path, files, reason):
    cache = snapshot(tmp_path, files)
    with hub(listing(PUBLISHED, LFS)) as standin:
        done = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache), *INCLUDE, env={"HF_ENDPOINT": standin.url})
    assert done.returncode == 1
    assert reason in done.stdout


def test_local_dir_and_a_manifest_instead_of_the_hub(tmp_path):
    local = tmp_path / "lora"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "adapter.safetensors").write_bytes(WEIGHTS)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": [{"path": "sub/adapter.safetensors", "size": len(WEIGHTS),
                                               "sha256": hashlib.sha256(WEIGHTS).hexdigest()}]}))
    ok = run("--repo", REPO, "--revision", REV, "--local-dir", str(local), "--manifest", str(manifest), "--include", "sub/")
    assert ok.returncode == 0, ok.stdout
    assert json.loads(ok.stdout.splitlines()[-1])["source"] == "manifest"
    (local / "sub" / "adapter.safetensors").write_bytes(WEIGHTS[:100] + b"\xff" + WEIGHTS[101:])
    bad = run("--repo", REPO, "--revision", REV, "--local-dir", str(local), "--manifest", str(manifest))
    assert bad.returncode == 1 and "verify: FAIL sub/adapter.safetensors: sha256" in bad.stdout


def test_patterns_that_select_nothing_fail(tmp_path):
    cache = snapshot(tmp_path, {"config.json": CONFIG})
    with hub(listing(PUBLISHED, LFS)) as standin:
        done = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache), "--include", "*.gguf",
                   env={"HF_ENDPOINT": standin.url})
    assert done.returncode == 1
    assert f"verify: FAIL no published file of {REPO}@{REV} matches --include *.gguf" in done.stdout


def test_a_hub_that_answers_another_revision_or_errors_is_refused(tmp_path):
    cache = snapshot(tmp_path, {"config.json": CONFIG})
    moved = {**listing(PUBLISHED, LFS), "sha": "f" * 40}
    with hub(moved) as standin:
        done = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache), env={"HF_ENDPOINT": standin.url})
    assert done.returncode == 2 and f"the hub answered revision {'f' * 40} for {REV}" in done.stdout
    with hub(listing(PUBLISHED, LFS)) as standin:
        done = run("--repo", "acme/other", "--revision", REV, "--cache-dir", str(cache), env={"HF_ENDPOINT": standin.url})
    assert done.returncode == 2 and "verify: ERROR cannot read the published file list" in done.stdout and "404" in done.stdout


def test_the_ca_bundle_variable_is_honoured_for_an_https_endpoint(tmp_path):
    cache = snapshot(tmp_path, {"config.json": CONFIG})
    done = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache),
               env={"HF_ENDPOINT": "https://127.0.0.1:9", "REQUESTS_CA_BUNDLE": str(tmp_path / "no-such-ca.pem")})
    assert done.returncode == 2
    assert f"the CA bundle {tmp_path / 'no-such-ca.pem'} (REQUESTS_CA_BUNDLE / SSL_CERT_FILE) is not a file" in done.stdout


def test_a_private_mirror_over_https_is_trusted_through_the_ca_bundle_only(tmp_path):
    """A real TLS mirror on 127.0.0.1 with a self-signed CA (openssl, installed by ./dev test): the verifier
    reaches it with REQUESTS_CA_BUNDLE and refuses it without."""
    import shutil
    import ssl
    import threading
    from http.server import ThreadingHTTPServer

    openssl = shutil.which("openssl")
    assert openssl, "openssl is missing: ./dev test installs it (Debian package openssl)"
    cert, key = tmp_path / "ca.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    cache = snapshot(tmp_path, {"config.json": CONFIG})
    body = json.dumps(listing({"config.json": CONFIG}, set())).encode()

    from http.server import BaseHTTPRequestHandler

    class Hub(BaseHTTPRequestHandler):
        def log_message(self, *_a):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        trusted = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache),
                      env={"HF_ENDPOINT": url, "REQUESTS_CA_BUNDLE": str(cert)})
        assert trusted.returncode == 0, trusted.stdout
        untrusted = run("--repo", REPO, "--revision", REV, "--cache-dir", str(cache), env={"HF_ENDPOINT": url})
        assert untrusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stdout
    finally:
        server.shutdown()
        server.server_close()
