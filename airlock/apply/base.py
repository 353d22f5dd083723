"""A delta bundle's base, checked completely before DIR is touched.

A delta bundle leaves out the blobs its base lock's bundle had; apply takes them from DIR's store. So
``base_lock_sha256`` must name a lock applied in DIR, and every blob the new lock needs must be either
in the bundle or in DIR's store with exactly the bytes its digest names (hashed here: a damaged or
deleted blob in DIR, or a bundle whose base claim is forged, is refused before anything changes).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from airlock.bundle.verify import Verified
from airlock.digest import Digest, parse_digest
from airlock.errors import BundleError
from airlock.lockfile import Lock
from airlock.oci import config_and_layers

CHUNK = 1 << 20


def needed_blobs(lock: Lock) -> dict[str, str]:
    """digest -> what needs it, for everything but image configs and layers (which need the manifests)."""
    out: dict[str, str] = {}
    if lock.kubespray.kind != "directory":
        out[lock.kubespray.digest] = f"the Kubespray {lock.kubespray.version} source"
    for f in lock.file:
        out[f.digest] = f"file {f.name} ({f.arch})"
    for r in lock.rpm:
        out[r.digest] = f"rpm {r.name} ({r.os})"
    for d in lock.deb:
        out[d.digest] = f"deb {d.name} ({d.os})"
    for w in lock.wheel:
        out[w.digest] = f"python package {w.filename}"
    for i in lock.deb_index:
        out[i.digest] = f"deb index {i.repo} ({i.os}, {i.arch})"
    for img in lock.image:
        out[img.target_digest] = f"image {img.ref}"
        for p in img.platforms:
            out[p.digest] = f"image {img.ref} ({p.arch})"
    return out


def _sha256(path: Path) -> Digest:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return Digest.from_hash(h)


def check_base(v: Verified, dest: Path, applied: list[str], bundle: Path) -> None:
    base = v.index.base_lock_sha256
    if not base:
        return
    if base not in applied:
        raise BundleError(f"this is a delta bundle for lock sha256:{base}, which is not applied in {dest}",
                          hint="apply the full bundle of that lock to this DIR first")
    store = dest / "oci" / "blobs" / "sha256"
    in_bundle = {e.digest for e in v.index.entries if e.path.startswith("blobs/")}
    checked: set[str] = set()

    def need(value: str, what: str) -> bytes | None:
        """Check one blob; returns its bytes when it is an image manifest the caller must read."""
        digest = parse_digest(value)
        if digest is None:
            raise BundleError(f"{bundle}: {what} names blob {value!r}, which is not a sha256 digest",
                              hint="do not use this bundle")
        if digest in in_bundle:
            return v.manifests.get(digest)
        path = store / digest.hex
        if digest not in checked:
            if not path.is_file():
                problem = "missing from"
            elif _sha256(path) != digest:
                problem = "damaged in"
            else:
                problem = ""
            if problem:
                repair = f"delete {path}, re-apply the base bundle" if problem == "damaged in" else \
                    "re-apply the base bundle"
                raise BundleError(
                    f"{bundle}: delta bundle for lock sha256:{base[:12]}: {what} needs blob {digest}, which is "
                    f"neither in the bundle nor intact in {dest} ({problem} {store})",
                    hint=f"apply the full bundle of this lock (fetch without --base), or {repair} and then this "
                         "delta; nothing was changed")
            checked.add(digest)
        return path.read_bytes()

    wanted = needed_blobs(v.lock)
    for digest, what in sorted(wanted.items()):
        need(digest, what)
    for img in v.lock.image:
        for p in img.platforms:
            body = need(p.digest, f"image {img.ref} ({p.arch})")
            try:
                doc = json.loads(body or b"")
                digests = [str(d["digest"]) for d in config_and_layers(doc)]
            except (ValueError, KeyError, TypeError):
                raise BundleError(f"{bundle}: image manifest {p.digest} of {img.ref} is not a valid manifest",
                                  hint="do not use this bundle") from None
            for d in digests:
                need(d, f"image {img.ref} ({p.arch})")
    if v.lock.kubespray.kind != "directory" and not any(e.kind == "kubespray" for e in v.index.entries):
        marker = dest / f"kubespray-{v.lock.kubespray.version}" / ".airlock-source"
        want = v.lock.kubespray.digest
        if not marker.is_file() or marker.read_text().strip() != want:
            raise BundleError(f"{bundle}: delta bundle without the Kubespray source, and {marker.parent} in "
                              f"{dest} is not Kubespray {v.lock.kubespray.version} ({want})",
                              hint="apply the full bundle of this lock; nothing was changed")
