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
from typing import Annotated, Any, Callable
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

__all__ = [
    # predicates: value -> what is wrong, or None
    "label_key_problem", "label_value_problem", "dns_label_problem", "dns_subdomain_problem",
    "quantity_problem", "port_name_problem", "env_name_problem", "duration_problem", "go_duration_problem",
    "docker_host_problem", "image_key_problem", "digest_image_problem", "cidr_problem", "parse_quantity",
    # pydantic types
    "TypeName", "LabelKey", "LabelValue", "Labels", "DnsLabel", "DnsSubdomain", "CpuQuantity", "MemoryQuantity",
    "StorageQuantity", "Port", "HostPort", "PortName", "Duration", "GoDuration", "DockerHostUrl", "ImageKey",
    "DigestImageRef", "Cidr", "EnvName", "HostMemoryGb", "Located", "located",
    # one value against one type, worded as the stack loader words it
    "error_message", "value_problem",
    # older helpers
    "dns_label", "ip_address",
]


@dataclass(frozen=True)
class TypeName:
    """Marker in an ``Annotated`` type: the name ``slm-deploy schema`` shows for it (stacks/README.md)."""

    name: str


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


# --------------------------------------------------------------------------- pydantic types


def _check(problem: Callable[[Any], str | None]) -> AfterValidator:
    def validate(value: Any) -> Any:
        message = problem(value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(validate)


LabelKey = Annotated[str, _check(label_key_problem), TypeName("label key")]
LabelValue = Annotated[str, _check(label_value_problem), TypeName("label value")]
Labels = dict[LabelKey, LabelValue]
DnsLabel = Annotated[str, _check(dns_label_problem), TypeName("DNS-1123 label")]
DnsSubdomain = Annotated[str, _check(dns_subdomain_problem), TypeName("DNS-1123 subdomain")]
CpuQuantity = Annotated[str, _check(lambda v: quantity_problem(v, "cpu")), TypeName("CPU quantity")]
MemoryQuantity = Annotated[str, _check(lambda v: quantity_problem(v, "memory")), TypeName("memory quantity")]
StorageQuantity = Annotated[str, _check(lambda v: quantity_problem(v, "storage")), TypeName("storage quantity")]
Port = Annotated[int, _check(lambda v: None if 1 <= v <= 65535 else "must be a port number from 1 to 65535"),
                 TypeName("port")]
HostPort = Annotated[int, _check(lambda v: None if 1024 <= v <= 65535 else
                                 "must be an unprivileged host port from 1024 to 65535"), TypeName("host port")]
PortName = Annotated[str, _check(port_name_problem), TypeName("port name")]
EnvName = Annotated[str, _check(env_name_problem), TypeName("env var name")]
Duration = Annotated[str, _check(duration_problem), TypeName("duration")]
GoDuration = Annotated[str, _check(go_duration_problem), TypeName("Go duration or seconds")]
DockerHostUrl = Annotated[str, _check(docker_host_problem), TypeName("Docker host URL")]
ImageKey = Annotated[str, _check(image_key_problem), TypeName("image key (versions.yaml)")]
DigestImageRef = Annotated[str, _check(digest_image_problem), TypeName("image@sha256 digest")]
Cidr = Annotated[str, _check(cidr_problem), TypeName("CIDR")]
HostMemoryGb = Annotated[float, Field(gt=0), TypeName("GB (number > 0)")]


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
