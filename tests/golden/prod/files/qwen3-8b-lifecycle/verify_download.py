"""Verify a downloaded model checkpoint against the hub's published metadata (or a manifest).

Runs in the cache-fill Job right after ``hf download``, with the standard library only (python3 >= 3.9),
so any job image with a Python works. Exit 0: every expected file is present with the published size and
checksum. Exit 1: a file is missing, has the wrong size, or a wrong checksum; one ``verify: FAIL`` line per
file says which and why, so the Job (and ``pulumi up``, which waits for it) fails with the reason in its
log. Exit 2: bad usage or the metadata could not be fetched.

What is checked, per file the include patterns select (fnmatch, as ``hf download --include`` selects them):

* size: the listing's ``size``;
* LFS files: SHA-256 of the content against ``lfs.sha256`` (the LFS object id the hub publishes);
* other files: the git blob id (SHA-1 of ``"blob <size>\\0" + content``) against ``blobId``.

Metadata comes from ``GET <endpoint>/api/models/<repo>/revision/<sha>?blobs=true``, the request
``HfApi.model_info(files_metadata=True)`` sends (huggingface_hub 0.35.3 hf_api.py:2636-2648). The endpoint is
``HF_ENDPOINT`` (default https://huggingface.co), the token ``HF_TOKEN`` or the file ``HF_TOKEN_PATH``, and a
private CA bundle ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` (the variables huggingface_hub's requests
session honours). ``--manifest`` replaces the hub with a JSON file
``{"files": [{"path", "size", "sha256"?, "gitOid"?}]}`` for sources without a hub API.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

CHUNK = 8 * 1024 * 1024
DEFAULT_ENDPOINT = "https://huggingface.co"


class Expected:
    __slots__ = ("path", "size", "sha256", "git_oid")

    def __init__(self, path: str, size: int, sha256: str | None, git_oid: str | None) -> None:
        self.path, self.size, self.sha256, self.git_oid = path, size, sha256, git_oid


def log(message: str) -> None:
    print(f"verify: {message}", flush=True)


def _ssl_context() -> ssl.SSLContext:
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if bundle and not os.path.isfile(bundle):
        raise ValueError(f"the CA bundle {bundle} (REQUESTS_CA_BUNDLE / SSL_CERT_FILE) is not a file")
    return ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()


def _token() -> str | None:
    token = os.environ.get("HF_TOKEN")
    path = os.environ.get("HF_TOKEN_PATH")
    if not token and path and os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            token = fh.read().strip()
    return token or None


def hub_listing(endpoint: str, repo: str, revision: str, timeout: float) -> list[Expected]:
    url = (f"{endpoint.rstrip('/')}/api/models/{repo}/revision/{urllib.parse.quote(revision, safe='')}"
           "?blobs=true")
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "slm-deploy-verify"})
    token = _token()
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = _ssl_context() if url.startswith("https:") else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310 - fixed scheme
        info = json.load(response)
    if info.get("sha") and info["sha"] != revision:
        raise ValueError(f"the hub answered revision {info['sha']} for {revision}")
    files = []
    for sibling in info.get("siblings") or []:
        lfs = sibling.get("lfs") or None
        size = sibling.get("size")
        if size is None:
            raise ValueError(f"the listing has no size for {sibling.get('rfilename')} (blobs=true not honoured?)")
        files.append(Expected(sibling["rfilename"], int(size), lfs["sha256"] if lfs else None, sibling.get("blobId")))
    return files


def manifest_listing(path: str) -> list[Expected]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return [Expected(f["path"], int(f["size"]), f.get("sha256"), f.get("gitOid")) for f in data["files"]]


def selected(files: list[Expected], patterns: list[str]) -> list[Expected]:
    """The files ``hf download --include`` fetches: fnmatch on the repo path; a pattern ending in '/' gets '*'."""
    if not patterns:
        return files
    pats = [p + "*" if p.endswith("/") else p for p in patterns]
    return [f for f in files if any(fnmatch.fnmatch(f.path, p) for p in pats)]


def _digests(path: str, size: int) -> tuple[str, str]:
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode())  # noqa: S324 - git's object id, not a security hash
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha256.update(chunk)
            git.update(chunk)
    return sha256.hexdigest(), git.hexdigest()


def check(root: str, expected: Expected) -> str | None:
    """None when the local file matches, else why not."""
    local = os.path.join(root, expected.path)
    if not os.path.isfile(local):
        return "missing"
    size = os.path.getsize(local)
    if size != expected.size:
        return f"size {size} != published {expected.size}"
    if not expected.sha256 and not expected.git_oid:
        return None
    sha256, git_oid = _digests(local, size)
    if expected.sha256:
        if sha256 != expected.sha256:
            return f"sha256 {sha256} != published {expected.sha256}"
    elif git_oid != expected.git_oid:
        return f"git blob id {git_oid} != published {expected.git_oid}"
    return None


def snapshot_root(cache_dir: str, repo: str, revision: str) -> str:
    """Where ``hf download`` puts a revision in the hub cache: <cache>/models--org--name/snapshots/<sha>."""
    return os.path.join(cache_dir, "models--" + repo.replace("/", "--"), "snapshots", revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="Hub repo id (org/name)")
    parser.add_argument("--revision", required=True, help="40-hex commit sha that was downloaded")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--cache-dir", help="hub cache (HF_HOME/hub): files are under models--org--name/snapshots/<sha>")
    where.add_argument("--local-dir", help="the --local-dir the files were downloaded to")
    parser.add_argument("--include", nargs="*", default=[], help="the hf download --include patterns")
    parser.add_argument("--manifest", help="JSON manifest instead of the hub listing")
    parser.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    source = args.manifest or f"{args.endpoint.rstrip('/')} ({args.repo}@{args.revision})"
    try:
        listing = manifest_listing(args.manifest) if args.manifest else hub_listing(
            args.endpoint, args.repo, args.revision, args.timeout)
    except (OSError, ValueError, KeyError, urllib.error.URLError) as exc:
        log(f"ERROR cannot read the published file list from {source}: {exc}")
        return 2
    files = selected(listing, args.include)
    if not files:
        log(f"FAIL no published file of {args.repo}@{args.revision} matches --include {' '.join(args.include)}")
        return 1
    root = args.local_dir or snapshot_root(args.cache_dir, args.repo, args.revision)
    failed = 0
    total = 0
    for expected in files:
        problem = check(root, expected)
        if problem:
            failed += 1
            log(f"FAIL {expected.path}: {problem} ({args.repo}@{args.revision})")
        else:
            total += expected.size
            kind = "sha256" if expected.sha256 else ("git blob id" if expected.git_oid else "size only")
            log(f"ok {expected.path} ({expected.size} bytes, {kind})")
    summary = {"repo": args.repo, "revision": args.revision, "files": len(files), "failed": failed,
               "verifiedBytes": total, "source": "manifest" if args.manifest else "hub"}
    print(json.dumps(summary, sort_keys=True), flush=True)
    if failed:
        log(f"FAIL {failed} of {len(files)} files do not match what {source} publishes; the cache is not used")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
