"""Where a model comes from: the public hub, a hub mirror, an S3-compatible bucket, or a pre-filled claim.

One typed :class:`ModelSource` per serving component (``source:`` in the stack file). Every source except
a pre-filled claim is fetched by the cache-fill Job, the only pod with egress; a pre-filled claim needs no
Job and no egress at all.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.validation import dns_label

__all__ = ["ModelSource", "S3Source", "https_url"]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def https_url(value: str, *, what: str) -> str:
    """``value`` without a trailing '/' if it is an https URL with a host and no query, else a ValueError."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{what} {value!r} must be an https:// URL (downloads are never sent in clear text)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{what} {value!r} must not carry credentials, a query or a fragment; put credentials in a Secret")
    return value.rstrip("/")


def _secret_name(value: str | None, what: str) -> str | None:
    return None if value is None else dns_label(value, max_len=253, what=what)


class S3Source(_Model):
    """An S3-compatible bucket (MinIO, Ceph RGW, AWS S3, R2 ...) holding the model files under a prefix."""

    endpoint: str = Field(description="https URL of the S3 API (e.g. https://minio.storage.svc:9000 or https://s3.eu-west-1.amazonaws.com). Required.")
    bucket: str = Field(description="Bucket name. Required.")
    prefix: str = Field(description="Key prefix of the model files, e.g. models/phi-4-mini/<sha>; its files land in the cache as the hub's would. Required.")
    credentials_secret: str = Field(alias="credentialsSecret", description="Secret with key `credentials`: an AWS shared-credentials file ([default] aws_access_key_id / aws_secret_access_key), mounted as a file. Required: created by you, never by the stack.")
    manifest: str = Field(default="slm-manifest.json", description="Object under the prefix listing every file with size and sha256 ({\"files\": [{\"path\", \"size\", \"sha256\"}]}); the Job verifies against it. Default slm-manifest.json.")
    region: str = Field(default="us-east-1", description="Signing region. Default us-east-1 (what most S3-compatible stores accept).")

    @field_validator("endpoint")
    @classmethod
    def _https(cls, v: str) -> str:
        return https_url(v, what="s3.endpoint")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        if not _BUCKET.match(v) or ".." in v:
            raise ValueError(f"s3.bucket {v!r} is not an S3 bucket name (3-63 lowercase letters, digits, '.' and '-')")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip("/")
        if not v or ".." in v.split("/"):
            raise ValueError(f"s3.prefix {v!r} must name a folder in the bucket (no '..')")
        return v

    @field_validator("credentials_secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        return dns_label(v, max_len=253, what="s3.credentialsSecret")


class ModelSource(_Model):
    """Where the cache-fill Job gets the model. Default (nothing set): the public Hugging Face hub."""

    mirror: str | None = Field(default=None, description="Hugging Face hub mirror (HF_ENDPOINT), https only, e.g. https://hf-mirror.internal. Default None: https://huggingface.co.")
    ca_bundle_secret: str | None = Field(default=None, alias="caBundleSecret", description="Secret with key `ca.crt`: the CA bundle of a private mirror or S3 endpoint (REQUESTS_CA_BUNDLE / AWS_CA_BUNDLE). Default None: the image's public CAs.")
    s3: S3Source | None = Field(default=None, description="Fetch from an S3-compatible bucket instead of a hub. Default None.")
    egress_cidrs: list[str] = Field(default_factory=list, alias="egressCidrs", description="Addresses (CIDRs) of a private mirror or S3 endpoint: the cache-fill Job may reach only these, on the URL's port. Default none: public addresses only, on 443 (or the URL's port).")
    prefilled_claim: str | None = Field(default=None, alias="prefilledClaim", description="An existing PersistentVolumeClaim that already holds the model (hub-cache layout for vLLM, OLLAMA_MODELS layout for Ollama, <model>/<variant> for ONNX). No cache-fill Job runs and no pod of the service gets egress. Default None.")

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = https_url(v, what="source.mirror")
        host = urlsplit(v).hostname or ""
        try:
            if ipaddress.ip_address(host).is_link_local:
                raise ValueError(f"source.mirror {v!r} is a link-local address (cloud metadata range), not a mirror")
        except ValueError as exc:
            if "link-local" in str(exc):
                raise
        return v

    @field_validator("egress_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"source.egressCidrs entry {cidr!r} is not a CIDR (e.g. 10.20.0.0/16 or 10.20.1.5/32)") from None
            if net.prefixlen == 0:
                raise ValueError(f"source.egressCidrs entry {cidr!r} is every address; leave egressCidrs empty for public downloads")
        return v

    @field_validator("ca_bundle_secret")
    @classmethod
    def _ca(cls, v: str | None) -> str | None:
        return _secret_name(v, "source.caBundleSecret")

    @field_validator("prefilled_claim")
    @classmethod
    def _claim(cls, v: str | None) -> str | None:
        return _secret_name(v, "source.prefilledClaim")

    @model_validator(mode="after")
    def _one_source(self) -> "ModelSource":
        if self.prefilled_claim and (self.mirror or self.s3 or self.ca_bundle_secret):
            extra = ", ".join(k for k, v in (("mirror", self.mirror), ("s3", self.s3), ("caBundleSecret", self.ca_bundle_secret)) if v)
            raise ValueError(f"prefilledClaim {self.prefilled_claim!r} is a pre-filled cache, nothing is downloaded: remove {extra}")
        if self.mirror and self.s3:
            raise ValueError("choose one download source: mirror (a hub mirror) or s3 (a bucket), not both")
        if self.egress_cidrs and not (self.mirror or self.s3):
            raise ValueError("egressCidrs are the addresses of a private mirror or S3 endpoint; set mirror or s3, or remove them (the public hub has no stable addresses)")
        if self.ca_bundle_secret and not (self.mirror or self.s3):
            raise ValueError("caBundleSecret is for a private mirror or S3 endpoint; set mirror or s3, or remove it (the public hub uses public CAs)")
        return self

    @property
    def kind(self) -> str:
        """``hub``, ``mirror``, ``s3`` or ``prefilled``."""
        if self.prefilled_claim:
            return "prefilled"
        if self.s3:
            return "s3"
        return "mirror" if self.mirror else "hub"

    @property
    def url(self) -> str | None:
        """The URL the fill Job talks to (None: the public hub)."""
        return self.s3.endpoint if self.s3 else self.mirror

    @property
    def port(self) -> int:
        """TCP port of the source (443 unless the URL names one)."""
        url = self.url
        return (urlsplit(url).port or 443) if url else 443

    @property
    def downloads(self) -> bool:
        return self.kind != "prefilled"
