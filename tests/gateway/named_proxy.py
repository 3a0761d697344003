"""Run a generated named-client proxy (nginx.conf + gateway.js from a rendered build) in real nginx + njs
on 127.0.0.1, in front of a stand-in model server (not a test module).

The only rewrites are the ones a test process needs, each asserted to have happened (a template change that
moves them fails loudly instead of silently testing something else): the listen port -> a free port on
127.0.0.1; pid and temp paths -> the test's directory; the config directory (js_path, the keys file) -> the
test's directory; the upstream server (``ollama:11434`` or ``model-server:8000`` on a Docker network,
``127.0.0.1:<port>`` in a pod) -> the stand-in; the upstream key file (a proxy in front of a server that
authenticates itself) -> the test's directory; the exporter's syslog port (Kubernetes: ``127.0.0.1:9514`` in the pod) -> a free port, with
the rendered ``metrics_exporter.py`` listening there; as root, ``user root`` so workers can read tmp_path.
Everything else runs as generated.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from components.gateway.proxy import keys_file_text

from .harness import Process, free_port, wait_http

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _sub(pattern: str, repl: str, text: str, *, count: int | None = 1) -> str:
    new, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
    assert (n >= 1) if count is None else (n == count), f"rewrite {pattern!r} matched {n} times: the config changed shape"
    return new


class NamedProxy:
    """The generated files of one proxy, running. ``conf_dir``: where the deployed proxy reads them."""

    def __init__(self, workdir: Path, files: dict[str, str], *, conf_dir: str, keys_file: str, upstream_port: int,
                 keys: dict[str, list[str]] | str, upstream_key_file: str | None = None, upstream_key: str = "",
                 keys_bind_source: Path | None = None) -> None:
        """``keys_bind_source``: the keys file nginx reads is a bind mount of this host file, made in nginx's own
        mount namespace (``unshare -m``), as docker compose mounts a file secret (``secrets/<name>``); the
        initial ``keys`` are written to it."""
        self.dir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "tmp").mkdir(exist_ok=True)
        (workdir / "gateway.js").write_text(files["gateway.js"])
        self.keys_file = workdir / "clients.keys"
        self.keys_source = keys_bind_source
        if keys_bind_source is not None:
            self.keys_file.touch()
            keys_bind_source.write_text(keys if isinstance(keys, str) else keys_file_text(keys))
        else:
            self.write_keys(keys)
        self.port = free_port()
        conf = files["nginx.conf"]
        conf = _sub(r"^pid /tmp/nginx\.pid;", f"pid {workdir}/nginx.pid;", conf)
        conf = _sub(r"(_temp_path) /tmp/", rf"\1 {workdir}/tmp/", conf, count=5)
        conf = _sub(rf"^(\s*)js_path {re.escape(conf_dir)};", rf"\g<1>js_path {workdir};", conf)
        conf = _sub(rf"^(\s*)js_var \$gw_keys_file {re.escape(keys_file)};", rf"\g<1>js_var $gw_keys_file {self.keys_file};", conf)
        conf = _sub(r"^(\s*)server (ollama|model-server|127\.0\.0\.1):\d+;", rf"\g<1>server 127.0.0.1:{upstream_port};", conf)
        self.upstream_key_file = workdir / "upstream.key"
        if upstream_key_file is not None:
            self.write_upstream_key(upstream_key)
            conf = _sub(rf"^(\s*)js_var \$gw_upstream_key_file {re.escape(upstream_key_file)};",
                        rf"\g<1>js_var $gw_upstream_key_file {self.upstream_key_file};", conf)
        else:
            assert "gw_upstream_key_file" not in conf
        conf = _sub(r"^(\s*)listen 8080;", rf"\g<1>listen 127.0.0.1:{self.port};", conf)
        self.exporter = None
        if "metrics_exporter.py" in files:  # the per-client metrics exporter beside nginx, from the rendered script
            self.syslog_port, self.exporter_port = free_port(), free_port()
            conf = _sub(r"syslog:server=127\.0\.0\.1:9514,", f"syslog:server=127.0.0.1:{self.syslog_port},", conf)
            (workdir / "metrics_exporter.py").write_text(files["metrics_exporter.py"])
            self.exporter = Process([sys.executable, str(workdir / "metrics_exporter.py"), "--syslog",
                                     f"127.0.0.1:{self.syslog_port}", "--listen", f"127.0.0.1:{self.exporter_port}"],
                                    workdir / "exporter.log")
            wait_http(f"http://127.0.0.1:{self.exporter_port}/healthz")
        else:
            assert "syslog:" not in conf
        if os.geteuid() == 0:
            conf = _sub(r"^worker_processes 1;", "worker_processes 1;\nuser root;", conf)
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(conf)
        check = subprocess.run([NGINX, "-t", "-p", str(workdir), "-c", str(self.conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        argv = [NGINX, "-p", str(workdir), "-c", str(self.conf), "-g", "daemon off;"]
        if keys_bind_source is not None:  # unshare and sh exec in place: the process is nginx itself
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", str(keys_bind_source), str(self.keys_file),
                    *argv]
        self.nginx = Process(argv, workdir / "nginx.log")
        wait_http(f"{self.url}/healthz")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_keys(self, keys: dict[str, list[str]] | str) -> None:
        """Replace the keys file atomically (as a Docker upload or the kubelet's Secret update lands)."""
        staged = self.keys_file.with_suffix(".new")
        staged.write_text(keys if isinstance(keys, str) else keys_file_text(keys))
        staged.replace(self.keys_file)

    def write_upstream_key(self, key: str) -> None:
        """Replace the upstream key file atomically (the server's key file format: one key per line)."""
        staged = self.upstream_key_file.with_suffix(".new")
        staged.write_text(f"# the server's key\n{key}\n" if key else "")
        staged.replace(self.upstream_key_file)

    def metrics(self) -> str:
        """The exporter's /metrics text."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.exporter_port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def access_log(self) -> str:
        return (self.dir / "nginx.log").read_text(errors="replace")

    def stop(self) -> None:
        self.nginx.stop(signal.SIGQUIT)
        if self.exporter is not None:
            self.exporter.stop()
