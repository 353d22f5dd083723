"""``airlock fetch``: follow the lock (never resolve), fill the cache, write one deterministic bundle.

Blobs come from the shared content-addressed cache; only missing ones are downloaded, in parallel,
verified before they enter the cache. The bundle is an OCI image layout whose ``blobs/sha256`` also
holds files and the Kubespray source, plus ``airlock.lock`` and ``bundle.json``. Here: the entry points
and the bundle's index; :mod:`airlock.fetcher` collects the lock's blobs and schedules their downloads.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from airlock.bootstrap.folder import build as build_bootstrap
from airlock.bundle.model import BundleIndex, Entry
from airlock.bundle.write import (
    Checks,
    bundle_bytes,
    checked_manifest,
    layout_index,
    stream_key,
    write_bundle,
)
from airlock.digest import Digest
from airlock.errors import CorruptCache, UsageError
from airlock.fetcher import KUBESPRAY, Blob, Fetcher
from airlock.lockfile import Lock, parse_lock
from airlock.manifest import load_manifest
from airlock.net.mirrors import parse_mirror
from airlock.net.registry import Registry
from airlock.oci import config_and_layers
from airlock.parallel import PriorityPool
from airlock.review.sbom import build_sbom
from airlock.scratch import require_space
from airlock.store import Store

OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass
class FetchOptions:
    manifest: Path | None = None  # airlock.yaml, carried in the bundle so apply can check offline.yml
    cache: Path | None = None
    base_lock: Path | None = None
    split: int | None = None
    concurrency: int = 16  # the CLI default, chosen with benchmarks/fetch_wan.py
    mirrors: Mapping[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    insecure_registries: frozenset[str] = frozenset()
    transport: Any = None
    sbom: bool = False


@dataclass
class FetchResult:
    bundle: Path
    files: list[Path]
    sha256: str
    size: int
    artifacts: int
    blobs: int
    downloaded: int
    from_cache: int


def base_digests(base: Lock, store: Store, registry: Registry) -> set[str]:
    """Every blob digest a base lock's bundle holds (its manifests are read from cache or registry)."""
    out: set[str] = {base.kubespray.digest} | {f.digest for f in base.file}
    for pins in (base.rpm, base.deb, base.deb_index, base.repo_key, base.wheel):
        out |= {p.digest for p in pins}
    for img in base.image:
        ref = img.ref
        out |= {img.digest, img.target_digest}
        for p in img.platforms:
            if not store.has(p.digest):
                store.put_bytes(p.digest, registry.manifest(ref, p.digest, what=f"base image {img.ref}").body,
                                what=f"base image {img.ref}")
            doc = json.loads(store.read(p.digest))
            out |= {p.digest, *(d["digest"] for d in config_and_layers(doc))}
    return out


def _check_space(store: Store, out: Path, todo: list[Blob], bundle: int) -> None:
    """Refuse up front when the downloads and the bundle cannot fit (one sum when both share a filesystem)."""
    downloads = sum(b.size or 0 for b in todo)
    store.root.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if os.stat(store.root).st_dev == os.stat(out.parent).st_dev:
        require_space(out.parent, downloads + bundle, f"the bundle {out.name} and {len(todo)} downloads to the cache")
        return
    require_space(store.root, downloads, f"{len(todo)} downloads to the cache")
    require_space(out.parent, bundle, f"the bundle {out.name}")


def fetch(lock_path: Path, out: Path, opts: FetchOptions, progress: Any = None) -> FetchResult:
    lock_bytes = lock_path.read_bytes()
    lock = parse_lock(lock_bytes.decode("utf-8"), str(lock_path))
    Store(opts.cache).sweep()
    for attempt in range(3):
        f = Fetcher(lock, lock_path.parent, opts, progress)
        try:
            return _fetch_once(f, lock, lock_bytes, out)
        except CorruptCache as exc:
            # Cached blobs changed after they were verified (disk, or someone else): drop them and
            # fetch again; the first retry checks every cached blob on its own, which names them.
            if attempt == 2:
                raise
            for digest in exc.bad:
                f.store.evict(digest)
    raise AssertionError("unreachable")


def fetch_lock(lock_path: Path, out: Path, opts: FetchOptions, *, manifest: Path | None = None,
               mirror_args: Sequence[str] = (), progress: Any = None) -> FetchResult:
    """``airlock fetch``: mirrors from ``manifest`` (default: the airlock.yaml beside the lock, if there is one)
    then from ``mirror_args`` (``KEY=URL``, later ones win); that manifest also goes into the bundle."""
    if not lock_path.is_file():
        raise UsageError(f"{lock_path} does not exist", hint="run `airlock resolve` first, or pass --lock")
    source = manifest or lock_path.with_name("airlock.yaml")
    has_manifest = manifest is not None or source.is_file()
    mirrors = dict(load_manifest(source).manifest.mirrors) if has_manifest else {}
    mirrors.update(parse_mirror(m) for m in mirror_args)
    return fetch(lock_path, out, replace(opts, manifest=source if has_manifest else None, mirrors=mirrors), progress)


def _fetch_once(f: Fetcher, lock: Lock, lock_bytes: bytes, out: Path) -> FetchResult:
    opts = f.opts
    try:
        base_sha = None
        if opts.base_lock:  # first: what the base holds is never scheduled
            base_bytes = opts.base_lock.read_bytes()
            base_sha = hashlib.sha256(base_bytes).hexdigest()
            f.skip = base_digests(parse_lock(base_bytes.decode(), str(opts.base_lock)), f.store, f.registry)
        f.pool = PriorityPool(opts.concurrency)
        try:
            sha, size, files, blobs = _fetch(f, lock, lock_bytes, base_sha, out)
        except BaseException:
            f.pool.cancel()  # what has not started; running downloads finish into the cache
            raise
        finally:
            f.pool.close()
    finally:
        f.net.close()
    return FetchResult(bundle=out, files=files, sha256=sha, size=size,
                       artifacts=1 + len(lock.file) + len(lock.image) + len(lock.rpm) + len(lock.deb)
                       + len(lock.wheel),
                       blobs=len(blobs),
                       downloaded=f.downloaded, from_cache=f.from_cache)


def _fetch(f: Fetcher, lock: Lock, lock_bytes: bytes, base_sha: str | None,
           out: Path) -> tuple[str, int, list[Path], list[Blob]]:
    """Schedule every download as soon as it is known, then write the bundle in digest order,
    waiting for each blob's download in turn (downloads run ahead, largest first)."""
    opts = f.opts
    f.start_manifests()
    f.kubespray()
    kube = next(b for b in f.blobs.values() if b.kind == "kubespray")
    f.schedule(kube, key=(KUBESPRAY, 0, kube.digest))  # a URL: its size is needed for the index
    f.files()
    f.packages()
    # Submitted in the order they should start, so a thread that frees up between two submissions
    # does not take a small blob first.
    for b in sorted(f.blobs.values(), key=f.order):
        f.schedule(b)
    target_sizes = f.manifests()
    if kube.digest in f.futures:
        f.futures[kube.digest].result()
    if kube.size is None:
        kube.size = f.store.path(kube.digest).stat().st_size
    index_json = layout_index(lock, target_sizes)
    meta: dict[str, tuple[bytes, str, list[str]]] = {
        "airlock.lock": (lock_bytes, "lock", []), "oci-layout": (OCI_LAYOUT, "layout", []),
        "index.json": (index_json, "layout", [])}
    if opts.manifest is not None:
        meta["airlock.yaml"] = (checked_manifest(opts.manifest, lock, f.store), "manifest", [])
    if opts.sbom:
        meta["sbom.cdx.json"] = (build_sbom(lock).encode(), "sbom", [])
    entries = [Entry(path=p, digest=Digest.of(d), size=len(d),
                     kind=k, serves=s) for p, (d, k, s) in meta.items()]  # type: ignore[arg-type]  # kinds are the Literal's values
    front = build_bootstrap(lock, f.store, f.download_pinned)  # while the blobs download
    entries += [Entry(path=b.path, digest=Digest.from_hex(b.sha256), size=b.size, kind="bootstrap",
                      serves=["bootstrap"]) for b in front]
    blobs = [b for b in sorted(f.blobs.values(), key=lambda b: b.digest) if b.digest not in f.skip]
    for b in blobs:
        size = b.size if b.size is not None else f.store.path(b.digest).stat().st_size
        digest = Digest(b.digest)
        entries.append(Entry(path=f"blobs/sha256/{digest.hex}", digest=digest, size=size,
                             kind=b.kind, serves=sorted(b.serves)))  # type: ignore[arg-type]  # kinds are the Literal's values
    index = BundleIndex(lock_sha256=hashlib.sha256(lock_bytes).hexdigest(), base_lock_sha256=base_sha,
                        entries=sorted(entries, key=lambda e: e.path))
    todo = f.pending(blobs)
    # Checked once the manifests give every size: downloads started before stay in the cache.
    _check_space(f.store, out, todo, bundle_bytes(index))
    f.start_progress(todo)
    futures = f.futures
    # A blob downloaded by this run was verified on the way in; any other cached blob is checked
    # while it is copied into the bundle, by its own sha256 or, when an earlier run recorded this
    # index's stream sha256 after checking every blob, by the stream sha256 computed anyway.
    key = stream_key(index)
    expect = f.store.recall("bundle-stream", key)
    checks = Checks(rehash=lambda d: d not in futures, expect=expect)
    try:
        sha, size, files = write_bundle(out, index, meta, blobs, f.store, opts.split,
                                        wait=lambda d: futures[d].result() if d in futures else None, front=front,
                                        checks=checks)
    except CorruptCache:
        f.store.forget("bundle-stream", key)
        raise
    if expect is None:
        f.store.remember("bundle-stream", key, sha)
    return sha, size, files, blobs
