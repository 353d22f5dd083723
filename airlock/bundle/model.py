"""bundle.json: what a bundle holds and which lock entry each blob serves (bundle format 1).

Names are fixed: the metadata files of :data:`META` and blobs at exactly ``blobs/sha256/<hex>``,
where ``<hex>`` is the blob's own sha256. :func:`index_problem` states the first way a parsed
bundle.json breaks those rules (checked before any blob is read).
"""

from __future__ import annotations

import json
import re
from typing import Final, Literal, get_args

from pydantic import Field

from airlock.digest import Digest
from airlock.names import check_name
from airlock.strict import Strict as _Strict

BUNDLE_FORMAT: Final = 1
Kind = Literal["lock", "manifest", "sbom", "layout", "kubespray", "file", "image-index", "image-manifest", "image-config",
               "image-layer", "rpm", "deb", "deb-index", "repo-key", "wheel", "bootstrap"]

# Every non-blob file a bundle may hold, with the only kind it may be listed as.
META: dict[str, str] = {"airlock.lock": "lock", "airlock.yaml": "manifest", "sbom.cdx.json": "sbom",
                        "oci-layout": "layout", "index.json": "layout"}
BLOB_PATH = re.compile(r"blobs/sha256/([0-9a-f]{64})")
# bootstrap/ (airlock for the admin host, see airlock/bootstrap/): one file name in one of these folders.
BOOTSTRAP_PATH = re.compile(r"bootstrap/(?:(?:wheels|rpms|rpms/repodata|debs)/)?([^/]+)")
BLOB_KINDS = frozenset(get_args(Kind)) - set(META.values()) - {"bootstrap"}
# Members read into memory are refused above these sizes before a byte of them is read.
MAX_INDEX = 64 << 20
MAX_KEPT = {"lock": 16 << 20, "manifest": 16 << 20, "layout": 16 << 20, "sbom": 64 << 20,
            "image-index": 16 << 20, "image-manifest": 16 << 20}
MAX_KEPT_TOTAL = 512 << 20


class Entry(_Strict):
    path: str
    digest: Digest
    size: int = Field(ge=0)
    kind: Kind
    serves: list[str] = Field(default_factory=list,
                              description="lock entries: kubespray, file:<name>:<arch>, image:<ref>")


class BundleIndex(_Strict):
    format: Literal[1] = BUNDLE_FORMAT
    lock_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    base_lock_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                         description="set for a delta bundle: the lock whose blobs it omits")
    entries: list[Entry]

    def dumps(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True) + "\n").encode()


def _plain_name(name: str) -> bool:
    try:
        check_name(name)
    except ValueError:
        return False
    return True


def index_problem(index: BundleIndex) -> str | None:
    """The first entry of bundle.json that breaks the naming rules, described; None when all is well."""
    paths: set[str] = set()
    digests: dict[str, str] = {}
    kept = 0
    for e in index.entries:
        if e.path in paths:
            return f"{e.path!r} is listed twice"
        paths.add(e.path)
        m = BLOB_PATH.fullmatch(e.path)
        boot = BOOTSTRAP_PATH.fullmatch(e.path)
        if boot is not None or e.kind == "bootstrap":
            if boot is None or e.kind != "bootstrap" or e.serves != ["bootstrap"] or not _plain_name(boot.group(1)):
                return f"{e.path!r} ({e.kind}) is not a bootstrap/ file name airlock writes"
            continue
        if e.path in META:
            if e.kind != META[e.path] or e.serves:
                return f"{e.path} is listed as {e.kind!r}{' serving ' + ', '.join(e.serves) if e.serves else ''}, " \
                       f"but it can only be the {META[e.path]!r} file"
        elif m is None:
            return f"{e.path!r} is not a bundle file name (only {', '.join(sorted(META))} and blobs/sha256/<hex>)"
        elif m.group(1) != e.digest.hex:
            return f"{e.path} is listed with digest {e.digest}: a blob's name must be its own sha256"
        elif e.kind not in BLOB_KINDS:
            return f"{e.path} is listed as {e.kind!r}, which is not a kind of blob"
        elif e.digest in digests:
            return f"{e.path}: digest {e.digest} is listed twice (also as {digests[e.digest]})"
        if m:
            digests[e.digest] = e.path
        cap = MAX_KEPT.get(e.kind)
        if cap is not None:
            if e.size > cap:
                return f"{e.path} ({e.kind}) is {e.size} bytes, more than the {cap >> 20} MiB such a file may have"
            kept += e.size
    if kept > MAX_KEPT_TOTAL:
        return f"its metadata and image manifests add up to {kept} bytes, more than {MAX_KEPT_TOTAL >> 20} MiB"
    lock = next((e for e in index.entries if e.path == "airlock.lock"), None)
    if lock is None:
        return "it lists no airlock.lock"
    if lock.digest != Digest.from_hex(index.lock_sha256):
        return f"airlock.lock is listed with digest {lock.digest}, but lock_sha256 is {index.lock_sha256}"
    return None
