"""Where a model comes from: the public hub, a hub mirror, an S3-compatible bucket, or a pre-filled claim.

One typed :class:`ModelSource` per serving component (``source:`` in the stack file). Every source except
a pre-filled claim is fetched by the cache-fill Job, the only pod with egress; a pre-filled claim needs no
Job and no egress at all.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.validation import Cidr, DnsSubdomain, HttpsUrl, S3Bucket, S3Prefix, located

__all__ = ["ModelSource", "S3Source"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class S3Source(_Model):
    """An S3-compatible bucket (MinIO, Ceph RGW, AWS S3, R2 ...) holding the model files under a prefix."""

    endpoint: HttpsUrl = Field(description="https URL of the S3 API (e.g. https://minio.storage.svc:9000 or https://s3.eu-west-1.amazonaws.com). Required.")
    bucket: S3Bucket = Field(description="Bucket name. Required.")
    prefix: S3Prefix = Field(description="Key prefix of the model files, e.g. models/phi-4-mini/<sha>; its files land in the cache as the hub's would. Required.")
    credentials_secret: DnsSubdomain = Field(alias="credentialsSecret", description="Secret with key `credentials`: an AWS shared-credentials file ([default] aws_access_key_id / aws_secret_access_key), mounted as a file. Required: created by you, never by the stack.")
    manifest: str = Field(default="slm-manifest.json", description="Object under the prefix listing every file with size and sha256 ({\"files\": [{\"path\", \"size\", \"sha256\"}]}); the Job verifies against it. Default slm-manifest.json.")
    region: str = Field(default="us-east-1", description="Signing region. Default us-east-1 (what most S3-compatible stores accept).")


class ModelSource(_Model):
    """Where the cache-fill Job gets the model. Default (nothing set): the public Hugging Face hub."""

    mirror: HttpsUrl | None = Field(default=None, description="Hugging Face hub mirror (HF_ENDPOINT), https only, e.g. https://hf-mirror.internal. Default None: https://huggingface.co.")
    ca_bundle_secret: DnsSubdomain | None = Field(default=None, alias="caBundleSecret", description="Secret with key `ca.crt`: the CA bundle of a private mirror or S3 endpoint (REQUESTS_CA_BUNDLE / AWS_CA_BUNDLE). Default None: the image's public CAs.")
    s3: S3Source | None = Field(default=None, description="Fetch from an S3-compatible bucket instead of a hub. Default None.")
    egress_cidrs: list[Cidr] = Field(default_factory=list, alias="egressCidrs", description="Addresses (CIDRs) of a private mirror or S3 endpoint: the cache-fill Job may reach only these, on the URL's port. Default none: public addresses only, on 443 (or the URL's port).")
    prefilled_claim: DnsSubdomain | None = Field(default=None, alias="prefilledClaim", description="An existing PersistentVolumeClaim that already holds the model (hub-cache layout for vLLM, OLLAMA_MODELS layout for Ollama, <model>/<variant> for ONNX). No cache-fill Job runs and no pod of the service gets egress. Default None.")

    @field_validator("egress_cidrs")
    @classmethod
    def _not_everything(cls, v: list[str]) -> list[str]:
        located([((i,), "must not be every address (a /0 network); leave egressCidrs empty for public downloads")
                 for i, cidr in enumerate(v) if cidr.endswith("/0")])
        return v

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
