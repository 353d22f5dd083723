"""``airlock fetch``: follow the lock (never resolve), fill the cache, write one deterministic bundle.

Blobs come from the shared content-addressed cache; only missing ones are downloaded, in parallel,
verified before they enter the cache. The bundle is an OCI image layout whose ``blobs/sha256`` also
holds files and the Kubespray source, plus ``airlock.lock`` and ``bundle.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from airlock.bundle.model import BundleIndex, Entry
from airlock.bundle.write import (
    Checks,
    bundle_bytes,
    checked_manifest,
    layout_index,
    stream_key,
    tar_directory,
    write_bundle,
)
from airlock.digest import Digest
from airlock.errors import AirlockError, CorruptCache, UsageError
from airlock.kubespray.source import tree_digest
from airlock.lockfile import Lock, parse_lock
from airlock.manifest import load_manifest
from airlock.net.http import Net
from airlock.net.mirrors import parse_mirror, rewrite_url
from airlock.net.registry import Registry
from airlock.parallel import PriorityPool
from airlock.reference import ImageRef
from airlock.resolvers.images import filtered_index
from airlock.scratch import require_space
from airlock.store import Store

OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
# Scheduling keys (smallest first): manifests before everything, since each one releases an image's
# blobs; a Kubespray URL next (the index needs its size); then blobs largest first, so a fetch ends
# on small blobs across many connections instead of one big blob on one slow-starting TCP stream.
# Unknown sizes count as largest.
_MANIFEST, _KUBESPRAY, _BLOB = 0, 1, 2
_UNKNOWN_SIZE = 1 << 62


@dataclass
class Blob:
    digest: str
    size: int | None
    kind: str
    what: str
    serves: set[str] = field(default_factory=set)
    opener: Callable[[int], Any] | None = None  # None: already in the store
    sha512: str | None = None


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


class _Fetcher:
    def __init__(self, lock: Lock, lock_dir: Path, opts: FetchOptions, progress: Any):
        self.lock, self.lock_dir, self.opts, self.progress = lock, lock_dir, opts, progress
        self.store = Store(opts.cache)
        self.net = Net(ca_file=opts.ca_file, insecure_hosts=opts.insecure_registries, transport=opts.transport,
                       concurrency=opts.concurrency)
        self.registry = Registry(self.net, opts.mirrors)
        self.blobs: dict[str, Blob] = {}
        self.downloaded = 0
        self.from_cache = 0
        self._count_lock = threading.Lock()
        self.pool: PriorityPool | None = None  # set while fetching; downloads are scheduled on it
        self.futures: dict[str, Future[None]] = {}  # digest -> its download, scheduled once
        self.skip: set[str] = set()  # in the base lock's bundle: never downloaded
        self._received = 0  # bytes that arrived before the progress bar knew its total
        self._started = False
        self._manifest_jobs: list[tuple[ImageRef, Digest, str, str, set[str]]] = []
        self._pending: dict[Future[None], tuple[Any, str, str, str, set[str]]] = {}

    def add(self, blob: Blob) -> None:
        have = self.blobs.get(blob.digest)
        if have:
            have.serves |= blob.serves
        else:
            self.blobs[blob.digest] = blob

    # -- collecting -----------------------------------------------------------------------

    def kubespray(self) -> None:
        pin = self.lock.kubespray
        what = f"Kubespray {pin.version} source"
        if pin.kind == "url":
            url = rewrite_url(pin.url, self.opts.mirrors)
            self.add(Blob(pin.digest, None, "kubespray", what, {"kubespray"},
                          self._http_opener(url, what)))
            return
        path = Path(pin.url) if Path(pin.url).is_absolute() else self.lock_dir / pin.url
        if pin.kind == "tarball":
            if not self.store.has(pin.digest):
                self.store.download(pin.digest, None, lambda off: _LocalFile(path, off), what=what)
            self.add(Blob(pin.digest, path.stat().st_size, "kubespray", what, {"kubespray"}))
            return
        if not path.is_dir() or tree_digest(path) != pin.sha256:
            raise AirlockError(f"{what}: the directory {path} no longer matches the lock",
                               hint="re-run `airlock resolve`, or restore the Kubespray tree it was resolved from")
        # The tar of a tree is a function of its digest: tarred once, recalled after (the cached tar
        # is checked like every other cached blob while it is copied into the bundle).
        known = self.store.recall("kubespray-tar", pin.sha256)
        if known and self.store.has(Digest.from_hex(known)):
            digest = Digest.from_hex(known)
            self.add(Blob(digest, self.store.path(digest).stat().st_size, "kubespray", what, {"kubespray"}))
            return
        data = tar_directory(path)
        digest = Digest.of(data)
        self.store.put_bytes(digest, data, what=what)
        self.store.remember("kubespray-tar", pin.sha256, digest.hex)
        self.add(Blob(digest, len(data), "kubespray", what, {"kubespray"}))

    def files(self) -> None:
        for f in self.lock.file:
            self._url_blob(f.url, f.digest, f.size, "file", f"file {f.name} ({f.arch})", f"file:{f.name}:{f.arch}",
                           sha512=f.sha512)

    def _url_blob(self, url: str, digest: Digest, size: int | None, kind: str, what: str, serves: str,
                  sha512: str | None = None) -> None:
        """A blob downloaded from ``url`` (through the mirrors), pinned by sha256 (and sha512)."""
        mirrored = rewrite_url(url, self.opts.mirrors)
        self.add(Blob(digest, size or None, kind, what, {serves}, self._http_opener(mirrored, what),
                      sha512=sha512))

    def packages(self) -> None:
        """RPMs, DEBs, wheels and the Packages indexes apply rebuilds the deb repos from."""
        for r in self.lock.rpm:
            self._url_blob(r.url, r.digest, r.size, "rpm", f"rpm {r.name}-{r.version}-{r.release}.{r.arch} ({r.os})",
                           f"rpm:{r.os}:{r.url.rsplit('/', 1)[-1]}")
        for d in self.lock.deb:
            self._url_blob(d.url, d.digest, d.size, "deb", f"deb {d.name}_{d.version}_{d.arch} ({d.os})",
                           f"deb:{d.os}:{d.url.rsplit('/', 1)[-1]}")
        for w in self.lock.wheel:
            self._url_blob(w.url, w.digest, w.size, "wheel", f"python package {w.filename}", f"wheel:{w.filename}")
        for i in self.lock.deb_index:
            self._url_blob(i.url, i.digest, i.size, "deb-index", f"deb index {i.repo} ({i.os}, {i.arch})",
                           f"deb-index:{i.os}:{i.arch}:{i.repo}")
        # Repository signing keys (issue 15): rpm nodes check packages with them; pinned like every blob.
        for k in self.lock.repo_key:
            self._url_blob(k.url, k.digest, k.size, "repo-key", f"signing key of repo {k.repo} ({k.os})",
                           f"repo-key:{k.os}:{k.repo}")

    def start_manifests(self) -> None:
        """Request every pinned manifest (byte-exact, by digest) before anything else is scheduled.

        At start every thread is free and a job runs the moment it is submitted, whatever its key:
        manifests submitted after the files would wait for a file to finish before the images'
        layers (usually the largest blobs) are even known, and the fetch would end on them."""
        jobs = []
        for img in self.lock.image:
            ref = img.ref
            serves = {f"image:{ref}"}
            for p in img.platforms:
                jobs.append((ref, p.digest, "image-manifest", f"image {img.ref} ({p.arch})", serves))
            if img.target != "platform":
                jobs.append((ref, img.digest, "image-index", f"image {img.ref}", serves))
        assert self.pool is not None
        self._manifest_jobs = jobs
        self._pending = {self.pool.submit((_MANIFEST, 0, j[1]), partial(self._manifest, *j[:4])): j for j in jobs}

    def manifests(self) -> dict[str, Any]:
        """Wait for the manifests :meth:`start_manifests` requested; add configs and layers as blobs."""
        jobs, pending = self._manifest_jobs, self._pending
        # An image's blobs start downloading as soon as its manifest is in and verified, not after
        # the last manifest: the link is busy from the first round trips.
        for fut in as_completed(pending):
            fut.result()
            for blob in sorted(self._manifest_blobs(*pending[fut]), key=self.order):
                self.schedule(blob)
        # Recorded in lock order (not arrival order): the index must not depend on the network.
        for job in jobs:
            for blob in self._manifest_blobs(*job):
                self.add(blob)
        targets = {}
        for img in self.lock.image:
            serves = {f"image:{img.ref}"}
            if img.target == "upstream-index":
                body = self.store.read_checked(img.digest)
                self.add(Blob(img.digest, len(body), "image-index", f"image {img.ref}", serves))
            elif img.target == "filtered-index":
                upstream = json.loads(self.store.read_checked(img.digest))
                wanted = {p.digest for p in img.platforms}
                descs = [d for d in upstream["manifests"] if d["digest"] in wanted]
                descs.sort(key=lambda d: next(p.arch for p in img.platforms if p.digest == d["digest"]))
                body = filtered_index(img.media_type, descs)
                self.store.put_bytes(img.target_digest, body, what=f"image {img.ref} (filtered index)")
                self.add(Blob(img.target_digest, len(body), "image-index", f"image {img.ref}", serves))
            targets[img.ref.canonical] = len(self.store.read(img.target_digest))
        return targets

    def _manifest_blobs(self, ref: Any, digest: str, kind: str, what: str, serves: set[str]) -> list[Blob]:
        """A platform manifest (from the cache, where it was verified) and the config and layers it names."""
        if kind != "image-manifest":
            return []
        body = self.store.read_checked(digest)
        doc = json.loads(body)
        out = [Blob(digest, len(body), kind, what, set(serves))]
        for desc, k in [(doc["config"], "image-config")] + [(d, "image-layer") for d in doc.get("layers", [])]:
            out.append(Blob(desc["digest"], int(desc["size"]), k, what, set(serves),
                            self._blob_opener(ref, desc["digest"], what)))
        return out

    def _manifest(self, ref: Any, digest: str, kind: str, what: str) -> None:
        if self.store.has(digest):
            return
        fetched = self.registry.manifest(ref, digest, what=what)
        self.store.put_bytes(digest, fetched.body, what=what)
        with self._count_lock:
            self.downloaded += len(fetched.body)

    # -- downloading ----------------------------------------------------------------------

    def download_pinned(self, url: str, size: int | None, sha256: str, what: str) -> None:
        """A pinned blob into the cache now (bootstrap/ is written before the blobs)."""
        digest = Digest.from_hex(sha256)
        if self.store.has(digest, size):
            self.from_cache += size or self.store.path(digest).stat().st_size
            return
        n = self.store.download(digest, size, self._http_opener(rewrite_url(url, self.opts.mirrors), what),
                                what=what, retries=self.net.retries)
        with self._count_lock:
            self.downloaded += n

    def _http_opener(self, url: str, what: str) -> Callable[[int], Any]:
        def opener(offset: int) -> Any:
            headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
            return self.net.stream(url, what=what, headers=headers)
        return opener

    def _blob_opener(self, ref: Any, digest: str, what: str) -> Callable[[int], Any]:
        return lambda offset: self.registry.open_blob(ref, digest, offset, what=what)

    def schedule(self, blob: Blob, key: tuple[int, int, str] | None = None) -> None:
        """Start downloading ``blob`` unless it is cached, made locally, in the base, or already under way."""
        if (blob.digest in self.futures or blob.opener is None or blob.kind in ("image-manifest", "image-index")
                or (key is None and blob.digest in self.skip) or self.store.has(blob.digest, blob.size)):
            return
        assert self.pool is not None
        key = key or self.order(blob)
        self.futures[blob.digest] = self.pool.submit(key, lambda: self.download(blob))

    def order(self, blob: Blob) -> tuple[int, int, str]:
        """Largest first by what is left: a resumed download counts by the bytes it still misses."""
        return _largest_first(blob, self.store.partial_size(blob.digest) if blob.opener else 0)

    def pending(self, blobs: list[Blob]) -> list[Blob]:
        """The blobs being downloaded; counts the rest as served from cache."""
        todo = []
        for blob in blobs:
            if blob.kind in ("image-manifest", "image-index") or blob.opener is None and blob.kind == "kubespray":
                continue  # fetched (and counted) while collecting, or made locally
            if blob.digest in self.futures:
                todo.append(blob)
            elif self.store.has(blob.digest, blob.size):
                self.from_cache += blob.size or self.store.path(blob.digest).stat().st_size
            elif blob.opener is None:
                raise AirlockError(f"{blob.what}: blob {blob.digest} is missing from the cache")
            else:
                self.schedule(blob)
                todo.append(blob)
        return todo

    def start_progress(self, todo: list[Blob]) -> None:
        """Show the total once every manifest is in; bytes that arrived before are counted at once."""
        if self.progress:
            self.progress.start(sum(b.size or 0 for b in todo), len(todo))
            with self._count_lock:
                self._started = True
                self.progress.advance(self._received)

    def _on_bytes(self, n: int) -> None:
        with self._count_lock:
            if not self._started:
                self._received += n
                return
        self.progress.advance(n)

    def download(self, b: Blob) -> None:
        n = self.store.download(b.digest, b.size, b.opener, what=b.what, sha512=b.sha512,  # type: ignore[arg-type]
                                retries=self.net.retries,
                                on_bytes=self._on_bytes if self.progress else None)
        with self._count_lock:
            self.downloaded += n
        if self.progress:
            self.progress.done(b.kind, b.what, b.size or n)


def _largest_first(blob: Blob, done: int = 0) -> tuple[int, int, str]:
    return _BLOB, -(blob.size - done if blob.size is not None else _UNKNOWN_SIZE), blob.digest


class _LocalFile:
    """An opener result for a local file, shaped like a streamed HTTP response."""

    def __init__(self, path: Path, offset: int):
        self.path, self.offset, self.status_code = path, offset, 206 if offset else 200

    def __enter__(self) -> "_LocalFile":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def iter_raw(self, chunk: int = 1 << 20) -> Any:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            yield from iter(lambda: f.read(chunk), b"")


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
            out |= {p.digest, doc["config"]["digest"], *(layer["digest"] for layer in doc.get("layers", []))}
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
        f = _Fetcher(lock, lock_path.parent, opts, progress)
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


def _fetch_once(f: _Fetcher, lock: Lock, lock_bytes: bytes, out: Path) -> FetchResult:
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


def _fetch(f: _Fetcher, lock: Lock, lock_bytes: bytes, base_sha: str | None,
           out: Path) -> tuple[str, int, list[Path], list[Blob]]:
    """Schedule every download as soon as it is known, then write the bundle in digest order,
    waiting for each blob's download in turn (downloads run ahead, largest first)."""
    opts = f.opts
    f.start_manifests()
    f.kubespray()
    kube = next(b for b in f.blobs.values() if b.kind == "kubespray")
    f.schedule(kube, key=(_KUBESPRAY, 0, kube.digest))  # a URL: its size is needed for the index
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
        from airlock.review.sbom import build_sbom

        meta["sbom.cdx.json"] = (build_sbom(lock).encode(), "sbom", [])
    entries = [Entry(path=p, digest=Digest.of(d), size=len(d),
                     kind=k, serves=s) for p, (d, k, s) in meta.items()]  # type: ignore[arg-type]
    from airlock.bootstrap.folder import build as build_bootstrap

    front = build_bootstrap(lock, f.store, f.download_pinned)  # while the blobs download
    entries += [Entry(path=b.path, digest=Digest.from_hex(b.sha256), size=b.size, kind="bootstrap",
                      serves=["bootstrap"]) for b in front]
    blobs = [b for b in sorted(f.blobs.values(), key=lambda b: b.digest) if b.digest not in f.skip]
    for b in blobs:
        size = b.size if b.size is not None else f.store.path(b.digest).stat().st_size
        digest = Digest(b.digest)
        entries.append(Entry(path=f"blobs/sha256/{digest.hex}", digest=digest, size=size,
                             kind=b.kind, serves=sorted(b.serves)))  # type: ignore[arg-type]
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
