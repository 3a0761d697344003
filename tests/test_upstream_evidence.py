"""The component docs carry upstream evidence (file and line at the pinned version) for what we generate;
these tests keep the checklists complete when the generated set changes."""

from __future__ import annotations

import re
from pathlib import Path

from components.ollama.webui import WebUiSettings, webui_environment
from components.onnx_edge.server import server as edge_server

DOCS = Path(__file__).parents[1] / "docs"


def _table_names(doc: str, heading: str) -> set[str]:
    section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    return {name for row in re.findall(r"^\| (.+?) \|", section, flags=re.MULTILINE) for name in re.findall(r"`([^`]+)`", row)}


def test_every_open_webui_variable_has_evidence():
    documented = _table_names((DOCS / "ollama.md").read_text(), "## Upstream evidence for the Open WebUI environment")
    generated = set(webui_environment(WebUiSettings(), "http://ollama:11434")) | {"WEBUI_SECRET_KEY"}
    assert generated <= documented, generated - documented


def test_every_edge_server_metric_and_route_is_documented():
    doc = (DOCS / "onnx-edge.md").read_text()
    for name in edge_server.METRIC_NAMES:
        assert f"`{name}" in doc, name
    for route in ("/v1/chat/completions", "/v1/models", "/metrics", "/health", "/ready"):
        assert f"`{route}`" in doc or f"`GET {route}`" in doc or f"`POST {route}`" in doc, route


def _evidence_rows(doc: str, heading_prefix: str) -> list[str]:
    """Table rows of every section whose heading starts with ``heading_prefix`` (up to the next heading)."""
    rows: list[str] = []
    for part in doc.split(heading_prefix)[1:]:
        section = re.split(r"^#{1,4} ", part.split("\n", 1)[1], maxsplit=1, flags=re.MULTILINE)[0]
        rows += [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return rows


def _cited(rows: list[str], name: str) -> bool:
    """A row names ``name`` in backticks and gives a line number (``file:line`` or a line column)."""
    return any(f"`{name}`" in row and re.search(r":\d+|\| \d+ \|", row) for row in rows)


def test_every_upstream_metric_name_has_evidence():
    """Each name components/monitoring/metrics.py allows from an upstream exporter is cited (file and line)."""
    from components.monitoring import metrics

    rows = _evidence_rows((DOCS / "monitoring.md").read_text(), "### Evidence")
    upstream = [metrics.VLLM_METRICS, metrics.VLLM_DEPRECATED, metrics.HTTP_METRICS, metrics.DCGM_METRICS,
                metrics.BLACKBOX_METRICS, metrics.KUBE_STATE_METRICS, metrics.CADVISOR_METRICS, metrics.PROMETHEUS_METRICS]
    missing = sorted(name for table in upstream for name in table if not _cited(rows, name))
    assert not missing, f"no file:line evidence in docs/monitoring.md for {missing}"


def test_the_evidence_check_fails_on_a_missing_row():
    rows = _evidence_rows("### Evidence: x\n\n| metric | at |\n| --- | --- |\n| `a_total` | `f.go:3` |\n| `b` | none |\n", "### Evidence")
    assert _cited(rows, "a_total") and not _cited(rows, "b") and not _cited(rows, "c")


def test_every_vllm_environment_variable_has_evidence():
    """Each variable the vLLM pod sets (server) and its cache-fill Job's download and verify steps set (every
    hub source: token, mirror, CA bundle) is cited where its library reads it."""
    from components.lifecycle.source import ModelSource
    from components.vllm.k8s import vllm_env
    from components.vllm.lifecycle import fill_env

    rows = _evidence_rows((DOCS / "vllm.md").read_text(), "### Upstream evidence for the environment")
    mirror = ModelSource.model_validate({"mirror": "https://hf-mirror.internal", "caBundleSecret": "ca"})
    generated = {env.name for env in vllm_env()} | set(fill_env(ModelSource(), with_token=True)) | set(fill_env(mirror, False))
    assert generated >= {"HF_HOME", "HF_HUB_OFFLINE", "TRITON_CACHE_DIR", "HF_TOKEN_PATH", "HF_ENDPOINT", "REQUESTS_CA_BUNDLE"}
    missing = sorted(name for name in generated if not _cited(rows, name))
    assert not missing, f"no file:line evidence in docs/vllm.md for {missing}"


def _og_calls_of_the_server() -> set[str]:
    """Attribute names the edge server's engine class reads on onnxruntime-genai objects (from its source)."""
    import ast

    import onnxruntime_genai as og

    source = (Path(edge_server.__file__)).read_text()
    engine = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "OnnxGenaiEngine")
    names = set()
    for node in ast.walk(engine):
        if not isinstance(node, ast.Attribute):
            continue
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        direct_self = isinstance(node.value, ast.Name) and node.value.id == "self"
        if direct_self or (isinstance(root, ast.Name) and root.id in {"json", "os", "importlib", "sys"}):
            continue
        names.add(node.attr)
    classes = [getattr(og, n) for n in dir(og) if isinstance(getattr(og, n), type)]
    return {n for n in names if n in dir(og) or any(n in vars(c) for c in classes)}


def test_every_onnxruntime_genai_call_has_the_pinned_binding_signature():
    """docs/onnx-edge.md lists every onnxruntime-genai call the server makes, with the signature the installed
    (pinned, see tests/onnx_edge/test_engine_names.py) binding reports for it."""
    import onnxruntime_genai as og

    rows = _evidence_rows((DOCS / "onnx-edge.md").read_text(), "## Upstream evidence (onnxruntime-genai")
    documented: dict[str, str] = {}
    for row in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        call, signature = re.fullmatch(r"`(og\.\w+|\w+\.\w+)`", cells[0]), re.match(r"`([^`]+)`", cells[1])
        if call and signature:
            documented[call.group(1)] = signature.group(1).replace("\\|", "|")
    used = _og_calls_of_the_server()
    assert {"set_search_options", "apply_chat_template", "GeneratorParams", "generate_next_token"} <= used
    missing = sorted(n for n in used if not any(key.split(".")[-1] == n for key in documented))
    assert not missing, f"no row in docs/onnx-edge.md for onnxruntime-genai {missing}"
    for key, signature in documented.items():
        owner, member = key.split(".")
        target = getattr(og, member) if owner == "og" else getattr(getattr(og, owner), member)
        method = target.__init__ if owner == "og" else target
        lines = {re.sub(r"^\d+\. ", "", line.strip()) for line in method.__doc__.splitlines()}
        lines = {re.sub(r"self: onnxruntime_genai\.onnxruntime_genai\.\w+(, )?", "", line)
                 .replace("onnxruntime_genai.onnxruntime_genai.", "og.") for line in lines}
        assert signature in lines, f"{key}: documented {signature!r}, the installed binding says {sorted(lines)}"


def _server_flags() -> dict[str, set[str]]:
    """Container name -> the ``--flags`` components/monitoring passes it and the routes its probes use
    (``server_container(name, image, [args], ..., ready=, live=)``); the blackbox exporter also serves ``/probe``."""
    import ast

    flags: dict[str, set[str]] = {}
    for module in (Path(__file__).parents[1] / "components" / "monitoring").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "server_container":
                name, argv = node.args[0].value, node.args[2]
                for item in argv.elts:
                    text = item.value if isinstance(item, ast.Constant) else ast.unparse(item)
                    match = re.search(r"(--[a-z][\w.-]*)", text)
                    if match:
                        flags.setdefault(name, set()).add(match.group(1))
                routes = {k.value.value for k in node.keywords if k.arg in ("ready", "live") and isinstance(k.value, ast.Constant)}
                flags.setdefault(name, set()).update(routes)
    return flags


def test_every_monitoring_server_flag_has_evidence():
    doc = (DOCS / "monitoring.md").read_text()
    rows = _evidence_rows(doc, "### Evidence: command-line flags")
    header = next(r for r in rows if r.startswith("| flag or route |"))
    columns = [re.search(r"`([^`]+)`", cell).group(1) if "`" in cell else cell.strip() for cell in header.split("|")[1:-1]]
    table = {re.search(r"`([^`]+)`", r.split("|")[1]).group(1): [c.strip() for c in r.split("|")[1:-1]] for r in rows if r is not header}
    used = _server_flags()
    used["blackbox-exporter"] = used.get("blackbox-exporter", set()) | {"/probe"}  # the probe jobs' path
    used.pop("grafana")  # not citable at 12.1.0 (docs/monitoring.md says why)
    assert {"prometheus", "alertmanager", "blackbox-exporter"} <= set(used) and "--storage.tsdb.retention.time" in used["prometheus"]
    missing = sorted(f"{server} {flag}" for server, flags in used.items() for flag in flags
                     if flag not in table or not re.search(r":\d+", table[flag][columns.index(server)]))
    assert not missing, f"no file:line evidence in docs/monitoring.md for {missing}"


def test_every_edge_download_variable_has_evidence():
    """The variables the ONNX edge download step sets (both targets, read from their source) are cited."""
    rows = _evidence_rows((DOCS / "onnx-edge.md").read_text(), "## Upstream evidence for the download step")
    onnx_edge = Path(__file__).parents[1] / "components" / "onnx_edge"
    names = set()
    for module in ("k8s.py", "docker.py"):
        source = (onnx_edge / module).read_text()
        names |= set(re.findall(r'EnvVarArgs\(name="([A-Z_]+)"', source)) | set(re.findall(r'f?"(HF_[A-Z_]+)=', source))
    assert {"HF_HOME", "HF_HUB_DISABLE_TELEMETRY", "HF_TOKEN_PATH"} <= names
    missing = sorted(n for n in names if not _cited(rows, n))
    assert not missing, f"no file:line evidence in docs/onnx-edge.md for {missing}"


def test_every_ollama_environment_variable_has_evidence():
    """Every variable a stack may set on the Ollama server (REAL_ENV_VARS) and those the component sets itself
    are cited with their line in envconfig/config.go at the pinned tag."""
    from components.ollama.settings import REAL_ENV_VARS

    rows = _evidence_rows((DOCS / "ollama.md").read_text(), "## Upstream evidence (Ollama")
    ollama = Path(__file__).parents[1] / "components" / "ollama"
    own = {n for module in ("k8s.py", "docker.py") for n in re.findall(r'"(OLLAMA_[A-Z_]+)": ', (ollama / module).read_text())}
    names = set(REAL_ENV_VARS) | own
    assert {"OLLAMA_HOST", "OLLAMA_MODELS", "OLLAMA_KEEP_ALIVE"} <= names
    missing = sorted(n for n in names if not _cited(rows, n))
    assert not missing, f"no line evidence in docs/ollama.md for {missing}"


def _s3_fetch_step():
    """The S3 source's fetch step as the generator builds it (with a CA bundle, so every variable is set)."""
    from types import SimpleNamespace

    from components.lifecycle.source import ModelSource
    from components.vllm.lifecycle import _s3_steps

    source = ModelSource.model_validate({"caBundleSecret": "ca", "s3": {
        "endpoint": "https://minio.storage.svc:9000", "bucket": "models", "prefix": "phi/abc",
        "credentialsSecret": "s3-creds"}})
    steps = _s3_steps(SimpleNamespace(source=source, download_patterns=["*.json"]), "org/model", "a" * 40)
    return next(step for step in steps if step.argv[0] == "aws")


def test_every_s3_fill_flag_and_variable_has_evidence():
    """The aws-cli fetch step's subcommand, flags and AWS_* variables are each cited (file:line in the pinned
    aws-cli's source) in docs/lifecycle.md."""
    rows = _evidence_rows((DOCS / "lifecycle.md").read_text(), "### Upstream evidence for the S3 fill step")
    step = _s3_fetch_step()
    names = set(step.env) | {arg for arg in step.argv if arg.startswith("--")} | {step.argv[2]}
    assert step.argv[:3] == ["aws", "s3", "sync"] and {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE", "--endpoint-url"} <= names
    missing = sorted(n for n in names if not _cited(rows, n))
    assert not missing, f"no file:line evidence in docs/lifecycle.md for {missing}"


def test_every_hf_download_flag_has_evidence():
    """Each flag of the fill Job's `hf download` (the model's and a LoRA adapter's step) is cited with its line in
    huggingface_hub's cli/download.py, for the whole huggingface_hub range the pinned vLLM image can hold."""
    from components.vllm.lifecycle import _hub_steps

    doc = (DOCS / "vllm.md").read_text()
    paragraph = doc.split("The download steps' command", 1)[1].split("\n\n", 1)[0]
    argv = [a for step in _hub_steps("org/model", "a" * 40, ["*.json"], "/models/lora/x", "") for a in step.argv
            if step.argv[:2] == ["hf", "download"]]
    flags = {a for a in argv if a.startswith("--")}
    assert flags == {"--revision", "--include", "--local-dir"}, flags
    missing = sorted(f for f in flags if not re.search(rf"`{re.escape(f)}` `:\d+`", paragraph))
    assert not missing, f"no cli/download.py line in docs/vllm.md for {missing}"
    assert all(v in paragraph for v in ("0.34.0", "0.35.3", "0.36.2")), "the range's minimum, image-time newest and newest"


def _search_options_of_the_server() -> set[str]:
    """The option names the edge server passes to set_search_options (keys of ``options`` in its generate())."""
    import ast

    source = Path(edge_server.__file__).read_text()
    engine = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "OnnxGenaiEngine")
    generate = next(n for n in engine.body if isinstance(n, ast.FunctionDef) and n.name == "generate")
    names = set()
    for node in ast.walk(generate):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "options" and isinstance(node.slice, ast.Constant):
            names.add(node.slice.value)
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "options" and isinstance(node.value, ast.Dict):
            names |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    return names


def test_every_onnxruntime_genai_call_and_search_option_has_a_source_line():
    """Each call row cites its definition in src/python/python.cpp, and each search option the server sets is
    cited where onnxruntime-genai parses it (src/config.cpp), in docs/onnx-edge.md."""
    rows = _evidence_rows((DOCS / "onnx-edge.md").read_text(), "## Upstream evidence (onnxruntime-genai")
    calls = [r for r in rows if re.match(r"\| `(og\.\w+|\w+\.\w+)` \|", r)]
    assert len(calls) >= 15 and all(re.search(r"`python\.cpp:\d+`", r) for r in calls), [r[:60] for r in calls]
    options = _search_options_of_the_server()
    assert {"max_length", "do_sample", "temperature", "top_p", "top_k", "random_seed"} <= options, options
    missing = sorted(o for o in options if not any(f"| `{o}` |" in r and re.search(r"`config\.cpp:\d+`", r) for r in rows))
    assert not missing, f"no src/config.cpp line in docs/onnx-edge.md for search options {missing}"


def _leaf_keys(tree: dict, prefix: str = "") -> set[str]:
    """Dotted paths of the leaves of a nested dict."""
    keys: set[str] = set()
    for key, value in tree.items():
        keys |= _leaf_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return keys


def test_every_genai_config_key_of_the_fixture_is_cited_at_the_pinned_builder_line():
    """docs/onnx-edge.md cites each key tests/onnx_edge/tiny_model.py writes at the line of the pinned wheel's model
    builder that writes it (checked on the installed 0.18.0 file), names the wheel's commit, and each key's name is
    in the pinned engine binary (where its C++ parser compares it)."""
    import onnxruntime_genai as og

    from tests.onnx_edge.tiny_model import _genai_config

    doc = (DOCS / "onnx-edge.md").read_text()
    assert og.__version__ == "0.18.0" and f'`__commit__ = "{og.__commit__}"`' in doc, og.__commit__
    rows = _evidence_rows(doc, "### Evidence: the genai_config.json keys")
    cited = {m.group(1): int(m.group(2)) for r in rows if (m := re.match(r"\| `([\w.]+)` \| `base\.py:(\d+)`", r))}
    keys = _leaf_keys(_genai_config(vocab=8))
    assert {"model.type", "search.past_present_share_buffer", "model.decoder.inputs.past_key_names"} <= keys, keys
    assert not keys - set(cited), f"no builder line in docs/onnx-edge.md for {sorted(keys - set(cited))}"
    package = Path(og.__file__).parent
    builder = (package / "models" / "builders" / "base.py").read_text().splitlines()
    wrong = {k: builder[cited[k] - 1].strip() for k in keys
             if k != "model.type" and f'"{k.rsplit(".", 1)[1]}"' not in builder[cited[k] - 1]}
    assert not wrong, f"the cited line does not write the key: {wrong}"
    assert '"type":' in builder[cited["model.type"] - 1]
    engine = (package / "libonnxruntime-genai.so").read_bytes()
    unknown = sorted(k for k in keys if k.rsplit(".", 1)[1].encode() not in engine)
    assert not unknown, f"not in the pinned engine binary: {unknown}"
