"""Writing bundles: the OCI layout index, a Kubespray directory as a tar, the deterministic tar itself."""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock import __version__
from airlock.bundle.model import BundleIndex
from airlock.bundle.tarstream import SplitWriter, TarWriter, tar_size
from airlock.digest import Digest
from airlock.errors import AirlockError, CorruptCache
from airlock.lockfile import Lock
from airlock.oci import OCI_INDEX
from airlock.scratch import disk_full, is_no_space, scratch_dir, sweep, test_hook
from airlock.store import Store


def tar_directory(root: Path) -> bytes:
    """A deterministic, uncompressed tar of a Kubespray directory (same tree, same bytes)."""
    buf = io.BytesIO()
    w = TarWriter(buf)
    prefix = f"{root.name}/"
    for path in sorted(p for p in root.rglob("*") if not p.is_symlink() and (p.is_file() or p.is_dir())):
        rel = prefix + path.relative_to(root).as_posix()
        if "/.git/" in rel or rel.endswith("/.git"):
            continue
        if path.is_dir():
            w.add_dir(rel)
        else:
            w.add_bytes(rel, path.read_bytes())
    w.close()
    return buf.getvalue()


def layout_index(lock: Lock, target_sizes: dict[str, int]) -> bytes:
    manifests = []
    for img in sorted(lock.image, key=lambda i: i.ref):
        desc: dict[str, Any] = {"mediaType": img.target_media_type, "digest": img.target_digest,
                                "size": target_sizes[img.ref.canonical],
                                "annotations": {"org.opencontainers.image.ref.name": img.ref.canonical}}
        if img.target == "platform":
            p = img.platforms[0]
            desc["platform"] = {"architecture": p.arch, "os": p.os, **({"variant": p.variant} if p.variant else {})}
        manifests.append(desc)
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def checked_manifest(path: Path, lock: Lock, store: Store | None = None) -> bytes:
    """The manifest's bytes, refused unless it is the one the lock was resolved from.

    Bytes already found to be this lock's manifest are recalled from ``store`` by their sha256:
    loading and normalizing the manifest again (and importing the resolver for it) is most of a
    warm fetch's work besides the copy."""
    data = path.read_bytes()
    key = hashlib.sha256(f"airlock-manifest-digest {__version__}\n".encode() + data).hexdigest()
    if store is not None and store.recall("manifest-digest", key) == lock.inputs.manifest_sha256:
        return data
    # lazy: a warm fetch recalls the digest above; airlock.resolve loads every resolver (~60 ms)
    from airlock.manifest import load_manifest
    from airlock.resolve import manifest_digest

    digest = manifest_digest(load_manifest(path))
    if digest != lock.inputs.manifest_sha256:
        raise AirlockError(f"{path} is not the manifest the lock was resolved from",
                           hint="run `airlock resolve` again, or pass the right manifest with -f")
    if store is not None:
        store.remember("manifest-digest", key, digest)
    return data


def leftovers(out: Path) -> list[Path]:
    """What killed or failed runs writing ``out`` may have left beside it (live runs' entries are locked)."""
    d, name = out.parent, out.name
    found = [*d.glob(f".{glob.escape(name)}.airlock-*"), *d.glob(f".{glob.escape(name)}.*.tmp"),
             *d.glob(f"{glob.escape(name)}.[0-9][0-9][0-9].tmp"), *d.glob(f"{glob.escape(name)}.sha256sums.tmp")]
    return sorted(set(found))


def bundle_bytes(index: BundleIndex) -> int:
    """The exact size of the bundle ``write_bundle`` writes for ``index``."""
    boot = {e.path.rsplit("/", 1)[0] for e in index.entries if e.kind == "bootstrap"}
    dirs = {"/".join(d.split("/")[:i]) for d in boot for i in range(1, len(d.split("/")) + 1)}
    return tar_size([len(index.dumps()), *(e.size for e in index.entries)], dirs=2 + len(dirs))


def stream_key(index: BundleIndex) -> str:
    """What fixes the bundle's bytes: its index (every entry's path, digest and size) and this writer."""
    return hashlib.sha256(f"airlock-bundle-stream {__version__}\n".encode() + index.dumps()).hexdigest()


@dataclass
class Checks:
    """How a bundle's cached blobs are checked while they are copied in (see ``Store.recall``):
    ``rehash(digest)`` says which to hash on their own (those this run did not download and verify);
    ``expect``, the stream sha256 recorded for this index, replaces those hashes when known."""

    rehash: Callable[[str], bool] = lambda _digest: True
    expect: str | None = None


def write_bundle(out: Path, index: BundleIndex, meta: dict[str, tuple[bytes, str, list[str]]],
                 blobs: list[Any], store: Store, split: int | None,
                 wait: Callable[[str], None], front: list[Any] | None = None,
                 checks: Checks | None = None) -> tuple[str, int, list[Path]]:
    """Write the tar (or its parts) in a locked scratch directory beside ``out``, then rename into place.

    Raises :class:`CorruptCache` (with nothing renamed into place) when a cached blob does not match
    its digest, or the stream does not match ``checks.expect``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep(leftovers(out))
    head = index.dumps()
    need = bundle_bytes(index)
    stage = scratch_dir(out.parent, f".{out.name}.airlock-")
    try:
        return _write(out, stage.path, head, meta, blobs, store, split, wait, front or [], checks or Checks())
    except OSError as exc:
        if not is_no_space(exc):
            raise
        stage.remove()  # first, so the message reports the space free without the partial bundle
        raise disk_full(out.parent, need, f"the bundle {out.name}") from None
    finally:
        stage.remove()


def _write(out: Path, stage: Path, head: bytes, meta: dict[str, tuple[bytes, str, list[str]]], blobs: list[Any],
           store: Store, split: int | None, wait: Callable[[str], None],
           front: list[Any], checks: Checks) -> tuple[str, int, list[Path]]:
    def check(digest: str) -> str | None:
        return digest if checks.expect is None and checks.rehash(digest) else None

    bad: list[str] = []
    splitter = SplitWriter(out, split, workdir=stage) if split else None
    tmp = stage / out.name
    with splitter if splitter else tmp.open("wb", buffering=0) as sink:
        w = TarWriter(sink)  # type: ignore[arg-type]  # SplitWriter is file-like (write/tell), not a BinaryIO
        # Metadata first so verify/apply read the index and the lock before any blob; then bootstrap/ (near
        # the front, so `tar -xf bundle.tar bootstrap/` reads little); then the other metadata and blobs by digest.
        w.add_bytes("bundle.json", head)
        w.add_bytes("airlock.lock", meta["airlock.lock"][0])
        if front:
            # lazy: bootstrap.folder loads the manifest models (~30 ms); verify and apply import this module
            from airlock.bootstrap.folder import directories

            for d in directories(front):
                w.add_dir(d)
            for f in front:
                if f.data is not None:
                    w.add_bytes(f.path, f.data)
                elif not w.add_file(f.path, f.source, f.size, check(Digest.from_hex(f.sha256))):
                    bad.append(Digest.from_hex(f.sha256))
        for name in ("airlock.yaml", "sbom.cdx.json", "oci-layout", "index.json"):
            if name in meta:
                w.add_bytes(name, meta[name][0])
        w.add_dir("blobs")
        w.add_dir("blobs/sha256")
        for b in blobs:
            wait(b.digest)
            path = store.path(b.digest)
            if not w.add_file(f"blobs/sha256/{Digest(b.digest).hex}", path, path.stat().st_size,
                              check(b.digest)):
                bad.append(b.digest)
            test_hook("fetch-writing")
        w.close()
        digest = w.sha256.hexdigest()
        if bad or (checks.expect is not None and digest != checks.expect):
            raise CorruptCache(bad)  # before anything is renamed into place
        if splitter:
            return digest, w.size, splitter.commit(digest)
    os.replace(tmp, out)
    return digest, w.size, [out]
