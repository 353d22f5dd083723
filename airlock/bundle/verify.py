"""``airlock verify`` and ``airlock inspect``: check a bundle completely, or describe it.

Verification streams the bundle once: bundle.json must come first; every later entry must be listed
there with the same size and sha256; only regular files and directories with safe relative paths
may appear; every listed entry must be present; the lock inside must be the one bundle.json names,
and (for a full bundle) every blob the lock needs must be there, including each platform
manifest's config and layers.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from airlock.bundle.model import BundleIndex
from airlock.bundle.tarstream import CHUNK, BundleError, iter_members, open_bundle
from airlock.lockfile import Lock, parse_lock


@dataclass
class Verified:
    index: BundleIndex
    lock: Lock
    lock_bytes: bytes
    manifests: dict[str, bytes] = field(default_factory=dict)  # small JSON blobs kept for checks


def verify_bundle(path: Path, *, keep: Any = None) -> Verified:
    """Verify ``path`` (or its split parts). ``keep(name, chunks)`` may consume each entry's bytes."""
    where = str(path)
    with open_bundle(path) as stream:
        try:
            try:
                index, seen, lock_bytes, small = _scan(stream, where, keep)
            except (tarfile.TarError, EOFError) as exc:
                raise BundleError(f"{where}: the tar ends early ({exc})",
                                  hint="the bundle is truncated; copy it again") from None
        except BundleError:
            _drain(stream)  # a damaged part of a split bundle is the better message
            raise
        _drain(stream)
    listed = {e.path: e for e in index.entries}
    missing = sorted(set(listed) - seen)
    if missing:
        raise BundleError(f"{where}: {len(missing)} listed entries are missing, e.g. {missing[0]}",
                          hint="the bundle is truncated; copy it again")
    if hashlib.sha256(lock_bytes).hexdigest() != index.lock_sha256:
        raise BundleError(f"{where}: airlock.lock does not match the digest in bundle.json")
    lock = parse_lock(lock_bytes.decode("utf-8"), f"{where}:airlock.lock")
    result = Verified(index, lock, lock_bytes, small)
    if index.base_lock_sha256 is None:
        _complete(result, where)
    return result


def _drain(stream: Any) -> None:
    while stream.read(CHUNK):
        pass


def _scan(stream: Any, where: str, keep: Any) -> tuple[BundleIndex, set[str], bytes, dict[str, bytes]]:
    index: BundleIndex | None = None
    listed: dict[str, Any] = {}
    seen: set[str] = set()
    lock_bytes = b""
    small: dict[str, bytes] = {}
    for member, data in iter_members(stream, where):
        name = member.name.rstrip("/")
        if index is None:
            if name != "bundle.json" or data is None:
                raise BundleError(f"{where}: the first entry is {name!r}, not bundle.json",
                                  hint="this is not an airlock bundle, or it was repacked")
            index = _parse_index(data.read(), where)
            listed = {e.path: e for e in index.entries}
            continue
        if data is None:
            if name not in ("blobs", "blobs/sha256") and not _bootstrap_dir(name):
                raise BundleError(f"{where}: unexpected directory {name!r}")
            continue
        entry = listed.get(name)
        if entry is None:
            raise BundleError(f"{where}: {name!r} is not listed in bundle.json", hint="do not use this bundle")
        if name in seen:
            raise BundleError(f"{where}: {name!r} appears twice")
        seen.add(name)
        h = hashlib.sha256()
        size = 0
        keep_small = entry.size <= 4 << 20 and entry.kind in ("lock", "manifest", "image-index", "image-manifest",
                                                               "layout")
        buf = bytearray() if keep_small else None
        sink = keep(name, entry) if keep else None
        for chunk in iter(lambda: data.read(CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
            if buf is not None:
                buf += chunk
            if sink:
                sink.write(chunk)
        if sink:
            sink.close()
        got = "sha256:" + h.hexdigest()
        if got != entry.digest or size != entry.size:
            raise BundleError(f"{where}: {name} ({', '.join(entry.serves) or entry.kind}) is damaged: "
                              f"expected {entry.digest} ({entry.size} bytes), got {got} ({size} bytes)",
                              hint="copy the bundle again; do not use this one")
        if buf is not None:
            small[entry.digest] = bytes(buf)
            if name == "airlock.lock":
                lock_bytes = bytes(buf)
    if index is None:
        raise BundleError(f"{where}: empty bundle")
    return index, seen, lock_bytes, small


def _bootstrap_dir(name: str) -> bool:
    """bootstrap/ and its wheels/, rpms/, rpms/repodata/ and debs/ directories."""
    return name in ("bootstrap", "bootstrap/wheels", "bootstrap/rpms", "bootstrap/rpms/repodata", "bootstrap/debs")


def _parse_index(raw: bytes, where: str) -> BundleIndex:
    try:
        data = json.loads(raw)
    except ValueError:
        raise BundleError(f"{where}: bundle.json is not JSON") from None
    if data.get("format") != 1:
        raise BundleError(f"{where}: bundle format {data.get('format')!r} is not supported (this airlock reads 1)",
                          hint="use the airlock release that wrote the bundle")
    try:
        return BundleIndex.model_validate(data)
    except ValidationError as exc:
        raise BundleError(f"{where}: invalid bundle.json: {exc.errors()[0]['msg']}") from None


def _complete(v: Verified, where: str) -> None:
    """Every blob the lock needs is in the bundle."""
    have = {e.digest for e in v.index.entries if e.path.startswith("blobs/")}

    def need(digest: str, what: str) -> None:
        if digest not in have:
            raise BundleError(f"{where}: {what} needs blob {digest}, which the bundle lacks",
                              hint="re-run `airlock fetch` for this lock")

    if v.lock.kubespray.kind != "directory":
        need("sha256:" + v.lock.kubespray.sha256, "the Kubespray source")
    for f in v.lock.file:
        need("sha256:" + f.sha256, f"file {f.name} ({f.arch})")
    for r in v.lock.rpm:
        need("sha256:" + r.sha256, f"rpm {r.name} ({r.os})")
    for d in v.lock.deb:
        need("sha256:" + d.sha256, f"deb {d.name} ({d.os})")
    for w in v.lock.wheel:
        need("sha256:" + w.sha256, f"python package {w.filename}")
    for i in v.lock.deb_index:
        need("sha256:" + i.sha256, f"deb index {i.repo} ({i.os}, {i.arch})")
    from airlock.bootstrap.check import check_bootstrap

    check_bootstrap(v.lock, v.index, where)
    for img in v.lock.image:
        need(img.target_digest, f"image {img.ref}")
        for p in img.platforms:
            need(p.digest, f"image {img.ref} ({p.arch})")
            doc = json.loads(v.manifests[p.digest])
            for d in [doc["config"], *doc.get("layers", [])]:
                need(d["digest"], f"image {img.ref} ({p.arch})")


def inspect_bundle(path: Path) -> dict[str, Any]:
    v = verify_bundle(path)
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "bytes": 0})
    per_image: dict[str, int] = defaultdict(int)
    for e in v.index.entries:
        by_kind[e.kind]["count"] += 1
        by_kind[e.kind]["bytes"] += e.size
        for s in e.serves:
            if s.startswith("image:"):
                per_image[s[len("image:"):]] += e.size
    return {
        "bundle": str(path),
        "format": v.index.format,
        "lock_sha256": v.index.lock_sha256,
        "delta_of": v.index.base_lock_sha256,
        "kubespray": v.lock.kubespray.version,
        "by_kind": dict(sorted(by_kind.items())),
        "files": [{"name": f.name, "arch": f.arch, "size": f.size, "path": f.path} for f in v.lock.file],
        "images": [{"ref": i.ref, "arch": [p.arch for p in i.platforms], "bytes": per_image.get(i.ref, 0),
                    "target": i.target} for i in v.lock.image],
        "total_bytes": sum(e.size for e in v.index.entries),
    }
