"""Field types shared by every Args model and by the gate's apply-validity stage, each rule written once.

Each Kubernetes/Docker value rule exists here exactly once, as a *predicate* that returns what is wrong
(or ``None``), and as a pydantic ``Annotated`` type built on it. Config fields use the types, so a bad
value is refused at load with a located line; the gate (``slm_deploy/gate/apply_validity.py``) runs the
same predicates over every rendered object, so a field that forgot its type is still caught before apply.

The rules are the API server's (k8s.io/apimachinery ``validation.go``, ``resource.Quantity``) and
Docker's (``docker/cli`` host parsing): where they would refuse a value, we refuse it first.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

__all__ = [
    # predicates: value -> what is wrong, or None
    "label_key_problem", "label_value_problem", "dns_label_problem", "dns_subdomain_problem",
    "quantity_problem", "port_name_problem", "env_name_problem", "duration_problem", "go_duration_problem",
    "docker_host_problem", "image_key_problem", "digest_image_problem", "cidr_problem", "parse_quantity",
    "commit_sha_problem", "https_url_problem", "ip_address_problem", "docker_user_problem", "s3_bucket_problem",
    "s3_prefix_problem", "cpu_tier_problem", "catalog_model_problem", "prom_size_problem", "prom_size_bytes",
    "host_and_port_problem", "data_key_problem", "alert_matcher_problem", "prom_label_name_problem",
    "hf_repo_problem", "ingress_host_problem", "ollama_model_name_problem", "http_url_problem",
    "served_model_name_problem", "docker_gpus_problem",
    # pydantic types
    "TypeName", "LabelKey", "LabelValue", "Labels", "DnsLabel", "DnsSubdomain", "CpuQuantity", "MemoryQuantity",
    "StorageQuantity", "Port", "HostPort", "PortName", "Duration", "GoDuration", "DockerHostUrl", "ImageKey",
    "DigestImageRef", "Cidr", "EnvName", "HostMemoryGb", "Located", "located",
    "InstanceName", "ReceiverName", "CommitSha", "HttpsUrl", "IpAddress", "DockerUser", "S3Bucket", "S3Prefix",
    "CpuTierId", "CatalogModelId", "PromSize", "HostAndPort", "DataKey", "AlertMatcher", "PromLabelName",
    "HfRepoId", "IngressHost", "OllamaModelName", "GroupBy", "HttpUrl", "ServedModelName", "DockerGpus",
    # one value against one type, worded as the stack loader words it
    "error_message", "value_problem",
    # older helpers
    "dns_label", "ip_address",
]


@dataclass(frozen=True)
class TypeName:
    """Marker in an ``Annotated`` type: the name ``slm-deploy schema`` shows for it (stacks/README.md) and, in
    that file's table of value types, what it allows."""

    name: str
    allowed: str = ""


# --------------------------------------------------------------------------- names and labels

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def dns_label_problem(value: str, max_len: int = 63) -> str | None:
    """RFC 1123 label (Namespace, Service and most object names)."""
    if not isinstance(value, str) or not _DNS_LABEL.match(value) or len(value) > max_len:
        return f"must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most {max_len} characters"
    return None


def dns_subdomain_problem(value: str) -> str | None:
    """RFC 1123 subdomain (ConfigMap, Secret, Deployment, StorageClass ... names): dot-separated labels, at most 253."""
    if not isinstance(value, str) or len(value) > 253 or not all(_DNS_LABEL.match(p) for p in value.split(".")):
        return "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit, at most 253 characters"
    return None


def label_key_problem(value: str) -> str | None:
    """Label/annotation key: optional ``<DNS subdomain>/`` prefix, then a name of at most 63 characters."""
    if not isinstance(value, str):
        return "must be a string"
    prefix, _, name = value.rpartition("/")
    if "/" in value and (not prefix or dns_subdomain_problem(prefix)):
        return "must be a label key: an optional DNS subdomain prefix and '/', then a name (e.g. app.kubernetes.io/name)"
    if not _QUALIFIED_NAME.match(name) or len(name) > 63:
        return ("must be a label key: a name of at most 63 characters (letters, digits, '-', '_', '.', starting and "
                "ending with a letter or digit), optionally prefixed by a DNS subdomain and '/'")
    return None


def label_value_problem(value: str) -> str | None:
    """Label value: empty, or at most 63 letters, digits, '-', '_', '.', starting and ending alphanumeric."""
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        return ("must be a label value: at most 63 characters, letters, digits, '-', '_' and '.', starting and ending "
                "with a letter or digit (no spaces)")
    return None


def port_name_problem(value: str) -> str | None:
    """IANA service name (container and Service port names): at most 15, lowercase alphanumerics and '-', a letter."""
    if (not isinstance(value, str) or len(value) > 15 or not _PORT_NAME.match(value) or "--" in value
            or not re.search(r"[a-z]", value)):
        return ("must be a port name: at most 15 lowercase letters, digits and '-', with at least one letter, no '--', "
                "starting and ending with a letter or digit")
    return None


def env_name_problem(value: str) -> str | None:
    """Environment variable name as the API server accepts it (C identifier-ish, plus '-' and '.')."""
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        return "must be an environment variable name: letters, digits, '_', '-' and '.', not starting with a digit"
    return None


# --------------------------------------------------------------------------- quantities

_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_MULTIPLIER = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "n": Decimal("1e-9"),
               "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
               "P": 10**15, "E": 10**18}


def parse_quantity(value: str | int | float) -> Decimal | None:
    """A Kubernetes quantity's value (``"1.5Gi"`` -> 1610612736), or ``None`` when it is not a quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str) or not _QUANTITY.match(value):
        return None
    number = re.match(r"^[+-]?(\d+(\.\d*)?|\.\d+)", value).group(0)  # type: ignore[union-attr]
    suffix = value[len(number):]
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number) * (Decimal(10) ** int(suffix[1:]))
        return Decimal(number) * Decimal(_MULTIPLIER[suffix])
    except (InvalidOperation, KeyError):
        return None


_QUANTITY_HELP = {
    "cpu": "a CPU quantity: cores (2, 0.5) or millicores (500m), greater than 0",
    "memory": "a memory quantity: bytes with an optional suffix Ki, Mi, Gi, Ti (binary) or k, M, G, T (decimal), "
              "e.g. 512Mi or 16Gi, greater than 0",
    "storage": "a storage quantity: bytes with an optional suffix Ki, Mi, Gi, Ti (binary) or k, M, G, T (decimal), "
               "e.g. 10Gi, greater than 0",
}


def quantity_problem(value: str | int | float, kind: str = "memory") -> str | None:
    """``kind`` cpu, memory or storage. Positive; memory/storage without sub-byte suffixes (m, u, n)."""
    amount = parse_quantity(value)
    text = str(value)
    odd_unit = text.endswith(("m", "u", "n")) if kind != "cpu" else bool(re.search(r"[A-Za-df-z]", text.rstrip("m")))
    if amount is None or amount <= 0 or odd_unit:
        hint = " (no space between number and unit)" if isinstance(value, str) and " " in value else ""
        return f"must be {_QUANTITY_HELP[kind]}{hint}"
    if kind == "cpu" and amount < Decimal("0.001"):
        return f"must be {_QUANTITY_HELP['cpu']} (1m is the smallest CPU unit)"
    return None


# --------------------------------------------------------------------------- durations, hosts, images

_PROM_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")


def duration_problem(value: str) -> str | None:
    """A Prometheus/Alertmanager duration (``30s``, ``5m``, ``1h30m``, ``15d``), units largest first."""
    if not isinstance(value, str) or not value or not _PROM_DURATION.match(value) or not re.search(r"[1-9]", value):
        return ("must be a non-zero duration: numbers with units, largest unit first (ms, s, m, h, d, w, y), "
                "e.g. 30s, 5m, 1h30m")
    return None


_GO_DURATION = re.compile(r"^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$")


def go_duration_problem(value: str) -> str | None:
    """What Ollama reads as a duration (OLLAMA_KEEP_ALIVE, OLLAMA_LOAD_TIMEOUT): Go's ``time.ParseDuration``
    (signed, units ns/us/ms/s/m/h, e.g. ``1h30m``, ``2.5m``, ``-1m``), else a whole number of seconds
    (``300``, ``-1``): ollama ``envconfig/config.go`` at v0.12.3, ``KeepAlive`` lines 100-115.
    Anything else Ollama silently replaces with its default, so it is refused here."""
    if isinstance(value, str) and (_GO_DURATION.match(value) or re.fullmatch(r"[-+]?\d+", value)):
        return None
    return ("must be a Go duration (units ns, us, ms, s, m, h, e.g. 5m, 1h30m, 2.5m; negative = forever) "
            "or a whole number of seconds (300, -1 = forever, 0 = unload at once)")


def docker_host_problem(value: str) -> str | None:
    """What pulumi-docker/Docker accepts as a host: unix:///abs/path, tcp://host[:port], ssh://[user@]host[:port]."""
    allowed = "use unix:///path/to/docker.sock, tcp://host[:port] or ssh://[user@]host[:port]"
    if not isinstance(value, str) or "://" not in value:
        return f"must be a Docker host URL with a scheme: {allowed}"
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        return f"has an invalid port: {allowed}"
    if url.scheme == "unix":
        if url.netloc or not url.path.startswith("/") or url.path == "/":
            return "unix:// needs an absolute socket path, e.g. unix:///var/run/docker.sock"
        return None
    if url.scheme not in ("tcp", "ssh"):
        return f"has scheme {url.scheme!r}: {allowed}"
    if not url.hostname or (url.path not in ("", "/")) or url.query or url.fragment:
        return f"{url.scheme}:// needs a host and nothing after it but a port: {allowed}"
    if url.scheme == "tcp" and url.username:
        return "tcp:// takes no user; use ssh://user@host for a login"
    if url.password:
        return "must not carry a password: use an SSH key or agent"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range 1-65535"
    return None


def image_key_problem(value: str) -> str | None:
    """A key of components/versions.yaml (every image is pinned there by tag and digest)."""
    from components.versions import pinned_images

    known = sorted(pinned_images())
    if value not in known:
        return f"is not an image pinned in components/versions.yaml; known: {', '.join(known)}"
    return None


_DIGEST_REF = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9]+([._-][a-z0-9]+)*)*(:\d+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+|-+[a-z0-9]+)*)*)"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}$")


def digest_image_problem(value: str) -> str | None:
    """An image reference pinned by digest: ``<registry/repository>[:tag]@sha256:<64 hex>``."""
    if not isinstance(value, str) or not _DIGEST_REF.match(value):
        return "must be an image pinned by digest: <registry>/<repository>[:tag]@sha256:<64 hex> (lowercase repository)"
    return None


def cidr_problem(value: str) -> str | None:
    """An IPv4/IPv6 network in CIDR notation with no host bits set (``ipaddress.ip_network(strict=True)``,
    the rule of NetworkPolicy ``ipBlock.cidr``)."""
    try:
        ipaddress.ip_network(value, strict=True)
    except (ValueError, TypeError):
        return "must be a CIDR with no host bits set, e.g. 10.20.0.0/16 or 203.0.113.10/32"
    return None


# --------------------------------------------------------------------------- revisions, URLs, addresses, names


def _short_label(max_len: int, why: str) -> Callable[[Any], str | None]:
    """A DNS-1123 label of at most ``max_len`` characters, ``why`` saying why the limit is tighter than 63."""
    def problem(value: Any) -> str | None:
        message = dns_label_problem(value, max_len)
        return f"{message} ({why})" if message else None

    return problem


_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


def commit_sha_problem(value: str) -> str | None:
    """A git commit sha, as ``hf download --revision`` takes it: 40 lowercase hex digits. Branch and tag names move,
    so the same stack file would deploy other weights tomorrow."""
    if not isinstance(value, str) or not _COMMIT_SHA.match(value):
        return "must be a 40-hex commit sha (lowercase 0-9 and a-f); branches and tags float"
    return None


def https_url_problem(value: str) -> str | None:
    """An https URL with a host: no credentials (they live in Secrets), no query or fragment, and not a link-local
    address (169.254.0.0/16, fe80::/10: the cloud metadata range is never a model source)."""
    allowed = "must be an https:// URL with a host, e.g. https://hf-mirror.internal or https://minio.storage.svc:9000"
    if not isinstance(value, str):
        return allowed
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return f"{allowed} (its port is not a number from 1 to 65535)"
    if parts.scheme != "https" or not parts.hostname:
        return f"{allowed} (downloads are never sent in clear text)" if parts.scheme == "http" else allowed
    if parts.username or parts.password:
        return "must not carry credentials: put them in a Secret"
    if parts.query or parts.fragment:
        return "must not carry a query or a fragment"
    try:
        if ipaddress.ip_address(parts.hostname).is_link_local:
            return "must not be a link-local address (the cloud metadata range is not a model source)"
    except ValueError:
        pass
    return None


def http_url_problem(value: str) -> str | None:
    """An http(s) URL of an in-cluster or private service (e.g. the Prometheus a KEDA trigger queries): a host, no
    credentials, query or fragment."""
    allowed = "must be an http:// or https:// URL with a host, e.g. http://prometheus.monitoring.svc:9090"
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        _ = parts.port if parts else None
    except ValueError:
        return f"{allowed} (its port is not a number from 1 to 65535)"
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return allowed
    if parts.username or parts.password or parts.query or parts.fragment:
        return f"{allowed}, without credentials, a query or a fragment"
    return None


_SERVED_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


def served_model_name_problem(value: str) -> str | None:
    """What clients put in ``model``. It is written into the proxies' nginx configs (a space-separated list inside
    a quoted string), so it carries no spaces, quotes or other characters nginx would read as syntax."""
    if not isinstance(value, str) or not _SERVED_MODEL_NAME.match(value):
        return ("must be a model name: at most 128 letters, digits, '.', '_', ':', '/' and '-', starting with a "
                "letter or digit (no spaces or quotes)")
    return None


def docker_gpus_problem(value: str | list[str]) -> str | None:
    """Docker's ``--gpus``: none, all, or device ids (indexes or GPU UUIDs) joined with commas by Docker."""
    if isinstance(value, list) and (not value or any(not d or "," in d or d.strip() != d for d in value)):
        return ("must be none, all, or a non-empty list of device ids (e.g. ['0', '1'] or GPU UUIDs) without commas "
                "or spaces")
    return None


def ip_address_problem(value: str) -> str | None:
    """An IPv4 or IPv6 address (where Docker publishes a port)."""
    try:
        ipaddress.ip_address(value)
    except (ValueError, TypeError):
        return "must be an IPv4 or IPv6 address, e.g. 127.0.0.1 (this host only) or 0.0.0.0 (every interface)"
    return None


_DOCKER_USER = re.compile(r"^(\d+)(:(\d+))?$")


def docker_user_problem(value: str) -> str | None:
    """A numeric ``uid[:gid]`` for Docker's ``user``, uid >= 10000 (the hardening rule CKV_SLM_020 checks)."""
    found = _DOCKER_USER.match(value) if isinstance(value, str) else None
    if not found or int(found.group(1)) < 10000:
        return "must be a numeric uid[:gid] with uid >= 10000, e.g. '10001:10001'"
    return None


_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def s3_bucket_problem(value: str) -> str | None:
    """An S3 bucket name (AWS general-purpose bucket naming rules, which MinIO and Ceph RGW follow)."""
    if not isinstance(value, str) or not _S3_BUCKET.match(value) or ".." in value or ip_address_problem(value) is None:
        return ("must be an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a "
                "letter or digit, no '..', not an IP address")
    return None


def s3_prefix_problem(value: str) -> str | None:
    """A key prefix naming a folder of the bucket (leading/trailing '/' are dropped first)."""
    if not isinstance(value, str) or not value.strip("/") or ".." in value.split("/"):
        return "must name a folder in the bucket, e.g. models/phi-4-mini/<sha> (not empty, no '..' parts)"
    return None


def cpu_tier_problem(value: str) -> str | None:
    """A CPU tier of components/catalog/hardware.yaml; a GPU id here is a kind mistake and says where GPUs go."""
    from components.catalog import get_cpu_tier, list_cpu_tiers, list_gpus

    tiers = ", ".join(t.id for t in list_cpu_tiers())
    if isinstance(value, str) and value.lower() in {g.id for g in list_gpus()}:
        return f"{value} is a GPU, not a CPU tier ({tiers}); GPUs are for vllm services (gpu)"
    try:
        get_cpu_tier(value)
    except ValueError as exc:  # UnknownCatalogId: the allowed ids and the closest one
        return str(exc)
    return None


def catalog_model_problem(value: str) -> str | None:
    """A model id of components/catalog/models.yaml."""
    from components.catalog import get_model

    try:
        get_model(value)
    except ValueError as exc:  # UnknownCatalogId: the allowed ids and the closest one
        return str(exc)
    return None


_PROM_SIZE = re.compile(r"^(\d+)(B|KB|MB|GB|TB|PB)$")
_PROM_SIZE_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50}


def prom_size_bytes(value: str) -> int | None:
    """Bytes of a Prometheus size (``--storage.tsdb.retention.size``: base-2 units B, KB ... PB), else None."""
    found = _PROM_SIZE.match(value) if isinstance(value, str) else None
    return int(found.group(1)) * _PROM_SIZE_UNITS[found.group(2)] if found else None


def prom_size_problem(value: str) -> str | None:
    if not prom_size_bytes(value):
        return "must be a Prometheus size: a whole number > 0 with B, KB, MB, GB, TB or PB (base 2), e.g. 8GB"
    return None


_HOST_AND_PORT = re.compile(r"^([A-Za-z0-9.-]+):(\d{1,5})$")


def host_and_port_problem(value: str) -> str | None:
    """``host:port`` of a service (a DNS name or IPv4 address, port 1-65535)."""
    found = _HOST_AND_PORT.match(value) if isinstance(value, str) else None
    if not found or not 1 <= int(found.group(2)) <= 65535:
        return "must be host:port with a port from 1 to 65535, e.g. blackbox-exporter.monitoring.svc:9115"
    return None


_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def data_key_problem(value: str) -> str | None:
    """A key of a Secret's or ConfigMap's data (apimachinery ``IsConfigMapKey``)."""
    if (not isinstance(value, str) or len(value) > 253 or not _DATA_KEY.match(value) or value in (".", "..")
            or value.startswith("..")):
        return ("must be a Secret data key: at most 253 letters, digits, '-', '_' and '.', not '.' or '..' and "
                "not starting with '..'")
    return None


_ALERT_MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*')


def alert_matcher_problem(value: str) -> str | None:
    """An Alertmanager route matcher: ``label OP "value"``."""
    if not isinstance(value, str) or not _ALERT_MATCHER.fullmatch(value):
        return 'must be an Alertmanager matcher: label OP "value" with OP one of = != =~ !~, e.g. severity="critical"'
    return None


_PROM_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def prom_label_name_problem(value: str) -> str | None:
    """A Prometheus label name, or Alertmanager's ``...`` (group by every label)."""
    if not isinstance(value, str) or not (value == "..." or _PROM_LABEL.match(value)):
        return ("must be a Prometheus label name (letters, digits and '_', not starting with a digit), or '...' "
                "(every label)")
    return None


def _group_by_problem(value: list[str]) -> str | None:
    """Alertmanager refuses ``...`` beside other labels in one group_by."""
    if "..." in value and len(value) > 1:
        return "'...' (group by every label) must be the only entry"
    return None


_HF_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,96}$")


def hf_repo_problem(value: str) -> str | None:
    """A Hugging Face repo id, by huggingface_hub's own rule (``utils/_validators.py`` validate_repo_id, 2.4.0
    lines 28-39 and 94-149): ``[owner/]name``, ASCII letters, digits, '-', '_', '.', neither part starting or ending
    with '-' or '.', at most 96 characters each, no '--' or '..', not ending in '.git'."""
    parts = value.split("/") if isinstance(value, str) else []
    if (not 1 <= len(parts) <= 2 or not all(_HF_NAME.match(p) and p[0] not in "-." and p[-1] not in "-." for p in parts)
            or "--" in value or ".." in value or value.endswith(".git")):
        return ("must be a Hugging Face repo id: owner/name of letters, digits, '-', '_' and '.' (at most 96 each, "
                "not starting or ending with '-' or '.', no '--' or '..'), e.g. microsoft/Phi-4-mini-instruct")
    return None


def ingress_host_problem(value: str) -> str | None:
    """An Ingress rule host: a DNS-1123 subdomain, optionally a wildcard ``*.`` first label; not an IP address."""
    name = value[2:] if isinstance(value, str) and value.startswith("*.") else value
    if dns_subdomain_problem(name) or ip_address_problem(name) is None:
        return ("must be a host name: a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), optionally "
                "starting with '*.', not an IP address")
    return None


_OLLAMA_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def ollama_model_name_problem(value: str) -> str | None:
    """The name of a model ``ollama create`` builds (what clients put in ``model``)."""
    if not isinstance(value, str) or not _OLLAMA_MODEL_NAME.match(value):
        return ("must be an Ollama model name: at most 64 lowercase letters, digits, '.', '_' and '-', starting with "
                "a letter or digit")
    return None


# --------------------------------------------------------------------------- pydantic types


def _check(problem: Callable[[Any], str | None]) -> AfterValidator:
    def validate(value: Any) -> Any:
        message = problem(value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(validate)


LabelKey = Annotated[str, _check(label_key_problem), TypeName("label key",
        "optional DNS-1123 subdomain prefix and '/', then at most 63 letters, digits, '-', '_', '.', starting and ending alphanumeric (app.kubernetes.io/name)")]
LabelValue = Annotated[str, _check(label_value_problem), TypeName("label value",
        "empty, or at most 63 letters, digits, '-', '_', '.', starting and ending alphanumeric; no spaces")]
Labels = dict[LabelKey, LabelValue]
DnsLabel = Annotated[str, _check(dns_label_problem), TypeName("DNS-1123 label",
        "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit")]
DnsSubdomain = Annotated[str, _check(dns_subdomain_problem), TypeName("DNS-1123 subdomain",
        "at most 253 characters: DNS-1123 labels joined by '.'")]
CpuQuantity = Annotated[str, _check(lambda v: quantity_problem(v, "cpu")), TypeName("CPU quantity",
        'cores (2, 0.5) or millicores (500m), greater than 0, no space before the unit')]
MemoryQuantity = Annotated[str, _check(lambda v: quantity_problem(v, "memory")), TypeName("memory quantity",
        'bytes with an optional suffix Ki, Mi, Gi, Ti (binary) or k, M, G, T (decimal), e.g. 512Mi, 16Gi; greater than 0, no space')]
StorageQuantity = Annotated[str, _check(lambda v: quantity_problem(v, "storage")), TypeName("storage quantity",
        "like a memory quantity, e.g. 10Gi, 30Gi; greater than 0, no space (not '30 GB')")]
Port = Annotated[int, _check(lambda v: None if 1 <= v <= 65535 else "must be a port number from 1 to 65535"),
                 TypeName("port",
        '1 to 65535')]
HostPort = Annotated[int, _check(lambda v: None if 1024 <= v <= 65535 else
                                 "must be an unprivileged host port from 1024 to 65535"), TypeName("host port",
        '1024 to 65535 (unprivileged)')]
PortName = Annotated[str, _check(port_name_problem), TypeName("port name",
        "IANA service name: at most 15 lowercase letters, digits and '-', at least one letter, no '--'")]
EnvName = Annotated[str, _check(env_name_problem), TypeName("env var name",
        "letters, digits, '_', '-' and '.', not starting with a digit")]
Duration = Annotated[str, _check(duration_problem), TypeName("duration",
        'Prometheus duration, units largest first: 30s, 5m, 1h30m, 15d (ms, s, m, h, d, w, y), not zero')]
GoDuration = Annotated[str, _check(go_duration_problem), TypeName("Go duration or seconds",
        'Go time.ParseDuration (5m, 1h30m, 2.5m, -1m) or whole seconds (300, -1 = forever)')]
DockerHostUrl = Annotated[str, _check(docker_host_problem), TypeName("Docker host URL",
        'unix:///path/to/docker.sock, tcp://host[:port] or ssh://[user@]host[:port]; no password')]
ImageKey = Annotated[str, _check(image_key_problem), TypeName("image key (versions.yaml)",
        'a key of components/versions.yaml, where every image is pinned by tag and digest')]
DigestImageRef = Annotated[str, _check(digest_image_problem), TypeName("image@sha256 digest",
        '<registry>/<repository>[:tag]@sha256:<64 hex>, repository lowercase')]
Cidr = Annotated[str, _check(cidr_problem), TypeName("CIDR",
        'an IPv4 or IPv6 network with no host bits set, e.g. 10.20.0.0/16, 203.0.113.10/32')]
HostMemoryGb = Annotated[float, Field(gt=0), TypeName("GB (number > 0)",
        'a number of gigabytes greater than 0')]
InstanceName = Annotated[str, _check(_short_label(42, "object names get suffixes")),
                         TypeName("DNS-1123 label (at most 42)",
        'a DNS-1123 label of at most 42 characters: object names get suffixes')]
ReceiverName = Annotated[str, _check(_short_label(50, "it also names the Secret volume receiver-<name>")),
                         TypeName("DNS-1123 label (at most 50)",
        'a DNS-1123 label of at most 50 characters: it also names a volume receiver-<name>')]
CommitSha = Annotated[str, _check(commit_sha_problem), TypeName("40-hex commit sha",
        '40 lowercase hex digits; branch and tag names float and are refused')]
HttpsUrl = Annotated[str, _check(https_url_problem), AfterValidator(lambda v: v.rstrip("/")), TypeName("https URL",
        'https://host[:port][/path]; no credentials, query or fragment; not link-local (cloud metadata)')]
HttpUrl = Annotated[str, _check(http_url_problem), TypeName("http(s) URL",
        'http:// or https:// with a host; no credentials, query or fragment')]
IpAddress = Annotated[str, _check(ip_address_problem), TypeName("IP address",
        'IPv4 or IPv6 address, e.g. 127.0.0.1 (this host only) or 0.0.0.0 (every interface)')]
DockerUser = Annotated[str, _check(docker_user_problem), TypeName("uid[:gid] (uid >= 10000)",
        "numeric uid, optionally ':' and a numeric gid, uid at least 10000, e.g. '10001:10001'")]
DockerGpus = Annotated[Literal["none", "all"] | list[str], _check(docker_gpus_problem),
                       TypeName("none | all | list[GPU device id]",
        'none, all, or a non-empty list of device indexes or GPU UUIDs, without commas or spaces')]
S3Bucket = Annotated[str, _check(s3_bucket_problem), TypeName("S3 bucket name",
        "3-63 lowercase letters, digits, '.' and '-', starting and ending alphanumeric, no '..', not an IP address")]
S3Prefix = Annotated[str, _check(s3_prefix_problem), AfterValidator(lambda v: v.strip("/")), TypeName("S3 key prefix",
        "a folder of the bucket, e.g. models/phi-4-mini/<sha>; not empty, no '..' parts (outer '/' dropped)")]
CpuTierId = Annotated[str, _check(cpu_tier_problem), TypeName("CPU tier (hardware.yaml)",
        'a CPU tier id of components/catalog/hardware.yaml (`./dev hardware` lists them)')]
CatalogModelId = Annotated[str, _check(catalog_model_problem), TypeName("catalog model id (models.yaml)",
        'a model id of components/catalog/models.yaml (`./dev models` lists them)')]
PromSize = Annotated[str, _check(prom_size_problem), TypeName("Prometheus size",
        'a whole number > 0 with B, KB, MB, GB, TB or PB (base 2), e.g. 8GB')]
HostAndPort = Annotated[str, _check(host_and_port_problem), TypeName("host:port",
        "a DNS name or IPv4 address, ':', a port from 1 to 65535")]
DataKey = Annotated[str, _check(data_key_problem), TypeName("Secret data key",
        "at most 253 letters, digits, '-', '_' and '.'; not '.', '..' or starting with '..'")]
AlertMatcher = Annotated[str, _check(alert_matcher_problem), TypeName("Alertmanager matcher",
        'label OP "value" with OP one of = != =~ !~, e.g. severity="critical"')]
PromLabelName = Annotated[str, _check(prom_label_name_problem), TypeName("Prometheus label name",
        "letters, digits and '_', not starting with a digit; or '...' (every label)")]
GroupBy = Annotated[list[PromLabelName], _check(_group_by_problem), TypeName("list[Prometheus label name]",
        "Prometheus label names (letters, digits, '_', not starting with a digit), or '...' alone (every label)")]
HfRepoId = Annotated[str, _check(hf_repo_problem), TypeName("Hugging Face repo id",
        "[owner/]name, each at most 96 ASCII letters, digits, '-', '_', '.', not starting or ending with '-' or '.'; no '--', '..' or trailing .git")]
IngressHost = Annotated[str, _check(ingress_host_problem), TypeName("host name (DNS-1123 subdomain, *. allowed)",
        "a DNS-1123 subdomain, optionally starting with '*.'; not an IP address")]
ServedModelName = Annotated[str, _check(served_model_name_problem), TypeName("model name",
        "at most 128 letters, digits, '.', '_', ':', '/' and '-', starting alphanumeric; no spaces or quotes")]
OllamaModelName = Annotated[str, _check(ollama_model_name_problem), TypeName("Ollama model name",
        "at most 64 lowercase letters, digits, '.', '_' and '-', starting with a letter or digit")]


def error_message(error: dict[str, Any]) -> str:
    """The text the stack loader prints for one pydantic error (``Value error, `` dropped)."""
    return str(error["msg"]).removeprefix("Value error, ")


def value_problem(type_: Any, value: Any) -> str | None:
    """What the stack loader says about ``value`` in a field of ``type_`` (one of the types above), or None.

    For checks outside the loader (the cookiecutter template's hook, ``new-stack``'s answers): the same
    type, the same validation and the same words, so there is one rule per value."""
    try:
        TypeAdapter(type_).validate_python(value)
    except ValidationError as exc:
        return error_message(exc.errors(include_url=False)[0])
    return None


# --------------------------------------------------------------------------- located model-level errors


class Located(ValueError):
    """Model-level problems that know which field or list entry is wrong.

    ``problems``: ``(location, message)`` with the location relative to the model being validated,
    e.g. ``(("vllm", 1, "name"), "...")``. The stack loader turns each into its own located line,
    so a rule over several entries points at the offending entry, not at the model's first line.
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]):
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


def located(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise :class:`Located` when ``problems`` is not empty."""
    if problems:
        raise Located(problems)


# --------------------------------------------------------------------------- older helpers (kept API)


def dns_label(value: str, *, max_len: int = 63, what: str | None = None, why: str = "") -> str:
    """``value`` if it is a DNS-1123 label of at most ``max_len`` characters, else a ValueError saying what is allowed.

    ``what`` names the field in the message (leave it out where the error already shows key and value);
    ``why`` explains a limit tighter than 63, e.g. because object names get suffixes.
    """
    if not _DNS_LABEL.match(value) or len(value) > max_len:
        subject = f"{what} {value!r} " if what else ""
        raise ValueError(
            f"{subject}must be a DNS-1123 label: lowercase letters, digits and '-', at most {max_len} characters{why}"
        )
    return value


def ip_address(value: str, *, what: str, hint: str) -> str:
    """``value`` if it is an IPv4/IPv6 address, else a ValueError naming ``what`` and ``hint``."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an IP address ({hint})") from None
    return value
