"""Every blob of a bundle against the lock inside it: right kind, right lock entries, right size.

The scan proves each blob's bytes hash to its name; this proves each name is what the lock says that
entry is. What the lock pins (files, packages, wheels, the Kubespray tarball, image manifests and
indexes) is matched by digest; configs and layers by the platform manifests the lock pins; index.json
and oci-layout must be exactly what the lock implies. Without this, two blobs listed under each
other's lock entries (or a manifest listed as a layer) would verify and be served.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from airlock.bundle.model import BundleIndex, Entry
from airlock.bundle.tarread import CHUNK, iter_members
from airlock.bundle.write import layout_index
from airlock.digest import parse_digest
from airlock.errors import BundleError
from airlock.lockfile import Lock
from airlock.oci import config_and_layers
from airlock.review.sbom import build_sbom

OCI_LAYOUT = {"imageLayoutVersion": "1.0.0"}


@dataclass
class _Want:
    kinds: set[str] = field(default_factory=set)
    serves: set[str] = field(default_factory=set)
    size: int | None = None
    what: str = ""


def _expected(lock: Lock, manifests: dict[str, bytes], where: str) -> dict[str, _Want]:
    want: dict[str, _Want] = {}

    def add(digest: str, kind: str, serves: str, size: int | None, what: str) -> None:
        w = want.setdefault(digest, _Want(what=what))
        w.kinds.add(kind)
        w.serves.add(serves)
        if size:
            w.size = size

    ks = lock.kubespray
    if ks.kind != "directory":  # a directory's blob is a tar made at fetch time; the scan checks its tree digest
        add(ks.digest, "kubespray", "kubespray", None, f"Kubespray {ks.version} source")
    for f in lock.file:
        add(f.digest, "file", f"file:{f.name}:{f.arch}", f.size, f"file {f.name} ({f.arch})")
    for r in lock.rpm:
        add(r.digest, "rpm", f"rpm:{r.os}:{r.url.rsplit('/', 1)[-1]}", r.size, f"rpm {r.name} ({r.os})")
    for d in lock.deb:
        add(d.digest, "deb", f"deb:{d.os}:{d.url.rsplit('/', 1)[-1]}", d.size, f"deb {d.name} ({d.os})")
    for w in lock.wheel:
        add(w.digest, "wheel", f"wheel:{w.filename}", w.size, f"python package {w.filename}")
    for i in lock.deb_index:
        add(i.digest, "deb-index", f"deb-index:{i.os}:{i.arch}:{i.repo}", i.size,
            f"deb index {i.repo} ({i.os}, {i.arch})")
    for k in lock.repo_key:
        add(k.digest, "repo-key", f"repo-key:{k.os}:{k.repo}", k.size, f"signing key of repo {k.repo} ({k.os})")
    for img in lock.image:
        serves = f"image:{img.ref}"
        if img.target != "platform":
            add(img.target_digest, "image-index", serves, None, f"image {img.ref}")
        for p in img.platforms:
            what = f"image {img.ref} ({p.arch})"
            add(p.digest, "image-manifest", serves, None, what)
            if p.digest in manifests:  # absent only from a delta bundle, whose base then holds its blobs too
                for digest, size, kind in manifest_blobs(manifests[p.digest], what, where):
                    add(digest, kind, serves, size, what)
    return want


def manifest_blobs(body: bytes, what: str, where: str) -> list[tuple[str, int, str]]:
    """(digest, size, kind) of an image manifest's config and layers; a malformed manifest is a BundleError."""
    try:
        doc = json.loads(body)
        descs = config_and_layers(doc)
        out = [(d["digest"], d["size"], "image-layer" if i else "image-config") for i, d in enumerate(descs)]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise BundleError(f"{where}: the manifest of {what} is not a valid image manifest",
                          hint="do not use this bundle") from None
    for digest, size, _ in out:
        if parse_digest(digest) is None or type(size) is not int or size < 0:
            raise BundleError(f"{where}: the manifest of {what} lists a bad descriptor", hint="do not use this bundle")
    return out


def check_against_lock(index: BundleIndex, lock: Lock, kept: dict[str, bytes], where: str) -> None:
    want = _expected(lock, kept, where)
    blobs = [e for e in index.entries if e.path.startswith("blobs/")]
    kubespray = [e for e in blobs if e.kind == "kubespray"]
    if len(kubespray) > 1:
        raise BundleError(f"{where}: {len(kubespray)} entries claim to be the Kubespray source",
                          hint="do not use this bundle")
    for e in blobs:
        _check_entry(e, want, lock, where)
    if index.base_lock_sha256 is None:
        present = {e.digest for e in blobs}
        for digest in sorted(set(want) - present):
            raise BundleError(f"{where}: {want[digest].what} needs blob {digest}, which the bundle lacks",
                              hint="re-run `airlock fetch` for this lock")
        if not kubespray:
            raise BundleError(f"{where}: the bundle lacks the Kubespray source", hint="re-run `airlock fetch`")
    _check_layout(index, lock, kept, where)


def _check_entry(e: Entry, want: dict[str, _Want], lock: Lock, where: str) -> None:
    bad = f"{where}: {e.path} ({e.kind}{', ' + ', '.join(e.serves) if e.serves else ''})"
    if e.kind == "kubespray" and lock.kubespray.kind == "directory":
        if e.serves != ["kubespray"]:
            raise BundleError(f"{bad} must serve exactly `kubespray`", hint="do not use this bundle")
        return
    w = want.get(e.digest)
    if w is None:
        raise BundleError(f"{bad} is nothing the lock pins", hint="do not use this bundle")
    if e.kind not in w.kinds:
        raise BundleError(f"{bad}: the lock has this digest as {' and '.join(sorted(w.kinds))} ({w.what}), "
                          f"not {e.kind}", hint="do not use this bundle")
    if sorted(e.serves) != sorted(w.serves) or len(set(e.serves)) != len(e.serves):
        raise BundleError(f"{bad}: the lock has this digest serving {', '.join(sorted(w.serves))}",
                          hint="do not use this bundle")
    if w.size is not None and e.size != w.size:
        raise BundleError(f"{bad} is {e.size} bytes; the lock says {w.size}", hint="do not use this bundle")


def _check_layout(index: BundleIndex, lock: Lock, kept: dict[str, bytes], where: str) -> None:
    """oci-layout and index.json are exactly what the lock implies: index.json decides what each tag serves."""
    entries = {e.path: e for e in index.entries}
    if "oci-layout" in entries and _json(kept[entries["oci-layout"].digest]) != OCI_LAYOUT:
        raise BundleError(f"{where}: oci-layout is not the OCI layout marker", hint="do not use this bundle")
    if "index.json" not in entries:
        raise BundleError(f"{where}: the bundle lacks index.json", hint="re-run `airlock fetch`")
    body = kept[entries["index.json"].digest]
    doc = _json(body)
    sizes: dict[str, int] = {}
    by_digest = {e.digest: e.size for e in index.entries}
    listed = doc.get("manifests") if isinstance(doc, dict) else None
    for d in listed if isinstance(listed, list) else []:
        notes = d.get("annotations") if isinstance(d, dict) else None
        ref = notes.get("org.opencontainers.image.ref.name") if isinstance(notes, dict) else None
        if isinstance(ref, str) and type(d.get("size")) is int:
            sizes[ref] = d["size"]
    for img in lock.image:
        if img.target == "platform" and not img.platforms:
            raise BundleError(f"{where}: the lock pins no platform for image {img.ref}", hint="do not use this bundle")
        if img.target_digest in by_digest:
            sizes[img.ref.canonical] = by_digest[img.target_digest]
    if any(img.ref.canonical not in sizes for img in lock.image) or layout_index(lock, sizes) != body:
        raise BundleError(f"{where}: index.json does not map the lock's image tags to the lock's digests",
                          hint="do not use this bundle")
    sbom = entries.get("sbom.cdx.json")
    if sbom is not None:
        try:
            expected = build_sbom(lock).encode()
        except Exception:  # noqa: BLE001  (the SBOM library's own errors for values it cannot describe)
            expected = None
        if expected != kept[sbom.digest]:
            raise BundleError(f"{where}: sbom.cdx.json does not describe the lock in the bundle",
                              hint="do not use this bundle")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


# A lock pins a Kubespray *directory* by ``tree_digest`` (every file's relative path and sha256), and fetch
# carries it as a deterministic tar of that directory; verify recomputes the digest from that tar so the
# Kubespray code apply unpacks is the code the lock pins. (Tarball and URL sources are pinned by the sha256
# of their bytes directly.)
def check_tree(stream: Any, want: str, where: str) -> None:
    files: dict[str, str] = {}
    for member, data in iter_members(stream, where):
        if data is None:
            continue
        rel = member.name.split("/", 1)[1] if "/" in member.name else ""
        if not rel or rel in files:
            raise BundleError(f"{where}: unexpected entry {member.name!r}", hint="do not use this bundle")
        h = hashlib.sha256()
        while chunk := data.read(CHUNK):
            h.update(chunk)
        if ".git" not in rel.split("/"):  # as tree_digest: git metadata is not the tree
            files[rel] = h.hexdigest()
    tree = hashlib.sha256()
    for rel in sorted(files, key=lambda r: r.split("/")):  # the order of sorted(Path...) in tree_digest
        tree.update(f"{rel}\0{files[rel]}\n".encode())
    if tree.hexdigest() != want:
        raise BundleError(f"{where}: its files do not match the Kubespray tree digest in the lock "
                          f"(expected {want}, got {tree.hexdigest()})", hint="do not use this bundle")
