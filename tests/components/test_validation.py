"""The shared field checks: one rule, one message, everywhere."""

import pytest

from components.validation import dns_label, ip_address


@pytest.mark.parametrize("value", ["a", "phi4-mini", "x" * 63])
def test_dns_label_accepts(value):
    assert dns_label(value) == value


@pytest.mark.parametrize("value", ["", "Bad", "-a", "a-", "a_b", "a.b", "x" * 64])
def test_dns_label_rejects_and_says_what_is_allowed(value):
    with pytest.raises(ValueError, match="must be a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters"):
        dns_label(value)


def test_dns_label_tighter_limit_names_field_and_reason():
    with pytest.raises(ValueError, match=r"^name 'x{43}' must be a DNS-1123 label: .* at most 42 characters \(suffixes\)$"):
        dns_label("x" * 43, max_len=42, what="name", why=" (suffixes)")


def test_ip_address():
    assert ip_address("::1", what="publishAddress", hint="h") == "::1"
    with pytest.raises(ValueError, match=r"^publishAddress 'everywhere' is not an IP address \(use 127.0.0.1\)$"):
        ip_address("everywhere", what="publishAddress", hint="use 127.0.0.1")


# --------------------------------------------------------------------------- the shared types

from pydantic import BaseModel, ValidationError  # noqa: E402

from components import validation as v  # noqa: E402


def _accepts(type_, value):
    class M(BaseModel):
        x: type_

    return M(x=value).x


def _refuses(type_, value) -> str:
    class M(BaseModel):
        x: type_

    with pytest.raises(ValidationError) as info:
        M(x=value)
    [err] = info.value.errors()
    return err["msg"].removeprefix("Value error, ")


CASES = [
    (v.LabelValue, ["", "slm-deploy", "a.b_c-d", "A1", "x" * 63], ["slm deploy", "-a", "a-", "x" * 64, "a/b", "é"], "label value"),
    (v.LabelKey, ["app", "app.kubernetes.io/name", "nvidia.com/gpu.product", "a_b.c"],
     ["", "/x", "Bad_/x", "a b", "x" * 64, "-a", "app.kubernetes.io/", "UPPER.io/x"], "label key"),
    (v.DnsLabel, ["slm", "a-1", "x" * 63], ["Slm", "a_b", "a.b", "-a", "x" * 64, ""], "DNS-1123 label"),
    (v.DnsSubdomain, ["a.b.c", "standard-rwo", "x" * 63], ["A.b", "a..b", "a.", ".a", "a_b", ("x" * 63 + ".") * 4], "DNS-1123 subdomain"),
    (v.CpuQuantity, ["2", "0.5", "500m", "1e3", "1.5"], ["2 cores", "0", "-1", "1Gi", "0.0001", "abc", ""], "CPU quantity"),
    (v.MemoryQuantity, ["16Gi", "512Mi", "1G", "1e9", "1024"], ["30 GB", "16GB", "1m", "0", "-1Gi", "Gi", "1.5.Gi"], "memory quantity"),
    (v.StorageQuantity, ["30Gi", "10G", "500Mi"], ["30 GB", "30gb", "0Gi", "5m"], "storage quantity"),
    (v.PortName, ["http", "metrics", "h2c-1", "x" * 15], ["HTTP", "http_1", "1234", "a--b", "-a", "x" * 16, ""], "port name"),
    (v.Duration, ["30s", "5m", "1h30m", "15d", "100ms"], ["5 m", "m5", "30", "1m1h", "", "forever"], "duration"),
    # Ollama's KeepAlive (envconfig/config.go at v0.12.3): time.ParseDuration, else whole seconds
    (v.GoDuration, ["5m", "1h30m", "2.5m", "-1m", "300ms", "0", "300", "-1", "+5s"],
     ["5 minutes", "1d", "forever", "", "5M", "m5", "1.5", "--1", "5 m"], "Go duration or seconds"),
    (v.DockerHostUrl, ["unix:///var/run/docker.sock", "tcp://10.0.0.2:2376", "tcp://box", "ssh://me@box", "ssh://box:2222"],
     ["box", "/var/run/docker.sock", "unix://var/run/docker.sock", "http://box", "ssh://", "tcp://me@box",
      "ssh://me:pw@box", "tcp://box:99999", "ssh://box/path"], "Docker host URL"),
    (v.EnvName, ["OLLAMA_HOST", "a.b-c", "_X"], ["1X", "A B", "A=B", ""], "env var name"),
    (v.InstanceName, ["phi4-mini", "x" * 42], ["x" * 43, "Phi4", "phi_4", "a.b", ""], "DNS-1123 label (at most 42)"),
    (v.ReceiverName, ["oncall", "x" * 50], ["x" * 51, "On-call", "a.b"], "DNS-1123 label (at most 50)"),
    (v.CommitSha, ["5a149550068a1eb93398160d8953f5f56c3603e9"],
     ["main", "v1.0", "5a14955", "5A149550068A1EB93398160D8953F5F56C3603E9", "5a149550068a1eb93398160d8953f5f56c3603e9 "],
     "40-hex commit sha"),
    (v.HttpsUrl, ["https://hf-mirror.internal", "https://minio.storage.svc:9000", "https://10.0.0.5/hub"],
     ["http://hf-mirror.internal", "hf-mirror.internal", "https://", "https://me:pw@mirror", "https://m/?x=1",
      "https://m/#f", "https://169.254.169.254", "https://m:99999", "ftp://m"], "https URL"),
    (v.HttpUrl, ["http://prometheus.monitoring.svc:9090", "https://prom.example.com"],
     ["prometheus:9090", "http://", "http://u:p@prom", "http://prom?x", "http://prom:0x1"], "http(s) URL"),
    (v.IpAddress, ["127.0.0.1", "0.0.0.0", "::1", "192.168.1.10"], ["localhost", "everywhere", "127.0.0.256", "", "1.2.3"],
     "IP address"),
    (v.DockerUser, ["10001", "10001:10001", "65534:0"], ["root", "1000:1000", "10001:", "10001:abc", "user:10001", ""],
     "uid[:gid] (uid >= 10000)"),
    (v.S3Bucket, ["models", "my.bucket-1", "abc"], ["ab", "Models", "my_bucket", "-models", "a..b", "192.168.1.1", "x" * 64],
     "S3 bucket name"),
    (v.S3Prefix, ["models/phi", "a"], ["", "/", "models/../etc", ".."], "S3 key prefix"),
    (v.CpuTierId, ["cpu-8gb", "cpu-32gb"], ["cpu-9gb", "l4", "8gb", ""], "CPU tier (hardware.yaml)"),
    (v.CatalogModelId, ["phi-4-mini-instruct", "qwen3-8b"], ["phi4", "qwen3-9b", "llama3:8b", ""], "catalog model id (models.yaml)"),
    (v.PromSize, ["8GB", "512MB", "1TB"], ["8Gi", "8 GB", "8gb", "1.5GB", "0GB", "8"], "Prometheus size"),
    (v.HostAndPort, ["blackbox-exporter.monitoring.svc:9115", "10.0.0.5:9115"],
     ["http://bb:9115", "bb", "bb:0", "bb:70000", "bb:port", ":9115"], "host:port"),
    (v.DataKey, ["url", "webhook.url", "api_url-1"], ["", ".", "..", "..x", "a/b", "a b", "x" * 254], "Secret data key"),
    (v.AlertMatcher, ['severity="critical"', 'source=~"phi4.*"', 'a != "b"'], ["severity=critical", 'sev:"x"', '1a="b"', ""],
     "Alertmanager matcher"),
    (v.PromLabelName, ["alertname", "_x", "job_1", "..."], ["1a", "a-b", "a.b", "", "a b"], "Prometheus label name"),
    (v.HfRepoId, ["microsoft/Phi-4-mini-instruct", "gpt2", "Qwen/Qwen3-0.6B", "org/model_v1.5"],
     ["a/b/c", "org/-model", "org/model.", "org--x/m", "org/m..x", "org/model.git", "org/mod el", "org/café", "", "/m"],
     "Hugging Face repo id"),
    (v.IngressHost, ["llm.example.com", "*.example.com", "gateway"],
     ["LLM.example.com", "10.0.0.1", "*.", "a..b", "llm example.com", "*foo.example.com", ""],
     "host name (DNS-1123 subdomain, *. allowed)"),
    (v.ServedModelName, ["phi-4-mini-instruct", "org/model:v1", "chat_2.5"],
     ["", "chat app", 'x"; return 200', "chat;", "-x", "x" * 129, "é"], "model name"),
    (v.OllamaModelName, ["support", "support-v2.1", "a_b"], ["Support", "-x", "a b", "a:b", "x" * 65, ""], "Ollama model name"),
]


@pytest.mark.parametrize("type_, good, bad, name", CASES, ids=[c[3] for c in CASES])
def test_each_type_accepts_real_values_and_refuses_what_the_api_server_would(type_, good, bad, name):
    for value in good:
        assert _accepts(type_, value) == value
    for value in bad:
        message = _refuses(type_, value)
        assert message.startswith(("must", "unix://", "ssh://", "tcp://", "has ", "port ", "unknown ", f"{value} is a GPU")), \
            (value, message)
        assert "\n" not in message
    assert any(isinstance(m, v.TypeName) and m.name == name for m in type_.__metadata__)


def test_ports():
    assert _accepts(v.Port, 80) == 80 and _accepts(v.HostPort, 3000) == 3000
    assert _refuses(v.Port, 0) == "must be a port number from 1 to 65535"
    assert _refuses(v.Port, 70000) == "must be a port number from 1 to 65535"
    assert "unprivileged" in _refuses(v.HostPort, 80)


def test_a_quantity_with_a_space_says_so():
    assert _refuses(v.StorageQuantity, "30 GB").endswith("(no space between number and unit)")


def test_parse_quantity():
    assert v.parse_quantity("1.5Gi") == 1610612736
    assert v.parse_quantity("500m") == v.parse_quantity("0.5")
    assert v.parse_quantity("2e3") == 2000
    assert v.parse_quantity("2 cores") is None


def test_image_key_lists_the_pinned_images():
    assert _accepts(v.ImageKey, "vllm-openai") == "vllm-openai"
    message = _refuses(v.ImageKey, "vllm/vllm-openai:latest")
    assert message.startswith("is not an image pinned in components/versions.yaml; known: ")
    assert "vllm-openai" in message and "ollama" in message


def test_digest_image_ref():
    digest = "sha256:" + "a" * 64
    assert _accepts(v.DigestImageRef, f"registry.example.com:5000/team/onnx-edge:1.0@{digest}")
    for bad in ("team/onnx-edge:1.0", f"Team/Edge@{digest}", f"team/edge@sha256:{'a' * 63}", f"team/edge:1.0 @{digest}"):
        assert _refuses(v.DigestImageRef, bad).startswith("must be an image pinned by digest")


def test_located_carries_every_entry():
    exc = v.Located([(("vllm", 1, "name"), "duplicate"), (("vllm", 2, "name"), "duplicate")])
    assert exc.problems[1][0] == ("vllm", 2, "name")
    v.located([])  # nothing to raise
    with pytest.raises(v.Located):
        v.located(exc.problems)


def test_group_by_keeps_every_label_alone():
    assert _accepts(v.GroupBy, ["..."]) == ["..."]
    assert _accepts(v.GroupBy, ["alertname", "job"]) == ["alertname", "job"]
    assert _refuses(v.GroupBy, ["...", "job"]) == "'...' (group by every label) must be the only entry"


def test_docker_gpus():
    assert _accepts(v.DockerGpus, "all") == "all" and _accepts(v.DockerGpus, ["0", "GPU-1a2b"]) == ["0", "GPU-1a2b"]
    for bad in ([], ["0,1"], [" 0"], [""]):
        assert _refuses(v.DockerGpus, bad).startswith("must be none, all, or a non-empty list of device ids")


def test_urls_and_prefixes_are_normalised():
    assert _accepts(v.HttpsUrl, "https://hf-mirror.internal/") == "https://hf-mirror.internal"
    assert _accepts(v.S3Prefix, "/models/phi/") == "models/phi"


def test_a_gpu_as_a_cpu_tier_says_where_gpus_go():
    assert _refuses(v.CpuTierId, "l4") == ("l4 is a GPU, not a CPU tier (cpu-4gb, cpu-8gb, cpu-16gb, cpu-32gb); "
                                           "GPUs are for vllm services (gpu)")


def test_unknown_catalog_ids_list_the_allowed_ones():
    message = _refuses(v.CatalogModelId, "phi-4-mini")
    assert message.startswith("unknown model 'phi-4-mini'.") and "Allowed: phi-4-mini-instruct" in message


def test_every_named_type_says_what_it_allows():
    """The schema doc's table of value types is filled from TypeName.allowed: none may be empty."""
    named = [getattr(v, n) for n in v.__all__ if hasattr(getattr(v, n), "__metadata__")]
    assert len(named) > 30
    for type_ in named:
        [marker] = [m for m in type_.__metadata__ if isinstance(m, v.TypeName)]
        assert marker.allowed.strip(), marker.name
