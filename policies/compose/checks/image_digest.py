from policies.compose._base import ComposeCheck, compose_meta
from policies.rules._identify import is_digest_pinned
from policies.rules._types import NA, Result


class ImageDigest(ComposeCheck):
    META = compose_meta(
        id="CKV_SLM_011",
        name="Ensure compose service images are pinned by sha256 digest",
        severity="MEDIUM",
        rationale=("Tags such as ollama/ollama:latest or :main move; a digest fixes the exact engine build the "
                   "flags, metrics and probes were validated against (the compose twin of CKV_K8S_43)."),
        reference="https://docs.docker.com/reference/compose-file/services/#image",
    )

    def evaluate(self, name, service, compose):
        image = service.get("image")
        if not image or service.get("build"):
            return NA  # built from a Dockerfile: the Dockerfile (its FROM digest) is gated instead
        return Result.judge(True, [] if is_digest_pinned(image) else [f"image {image} is not pinned by digest"])


check = ImageDigest()
