"""Collecting a lock's blobs and scheduling their downloads, for :mod:`airlock.fetch` (which writes the bundle):
:class:`Fetcher` turns each pin into a :class:`Blob` and starts each missing one on a priority pool once known."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.bundle.write import tar_directory
from airlock.digest import Digest
from airlock.errors import AirlockError
from airlock.kubespray.source import tree_digest
from airlock.lockfile import Lock
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url
from airlock.net.registry import Registry
from airlock.oci import config_and_layers
from airlock.parallel import PriorityPool
from airlock.reference import ImageRef
from airlock.resolvers.images import filtered_index
from airlock.store import Store

if TYPE_CHECKING:
    from airlock.fetch import FetchOptions

# Scheduling keys (smallest first): manifests before everything, since each one releases an image's
# blobs; a Kubespray URL next (the index needs its size); then blobs largest first, so a fetch ends
# on small blobs across many connections instead of one big blob on one slow-starting TCP stream.
# Unknown sizes count as largest.
MANIFEST, KUBESPRAY, BLOB = 0, 1, 2
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


class Fetcher:
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
        self._pending = {self.pool.submit((MANIFEST, 0, j[1]), partial(self._manifest, j[0], j[1], j[3])): j for j in jobs}

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
        for i, desc in enumerate(config_and_layers(doc)):
            out.append(Blob(desc["digest"], int(desc["size"]), "image-layer" if i else "image-config", what, set(serves),
                            self._blob_opener(ref, desc["digest"], what)))
        return out

    def _manifest(self, ref: Any, digest: str, what: str) -> None:
        if self.store.has(digest):
            return
        fetched = self.registry.manifest(ref, digest, what=what)
        self.store.put_bytes(digest, fetched.body, what=what)
        with self._count_lock:
            self.downloaded += len(fetched.body)

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
        n = self.store.download(b.digest, b.size, b.opener, what=b.what, sha512=b.sha512,  # type: ignore[arg-type]  # opener is set for every blob downloaded
                                retries=self.net.retries,
                                on_bytes=self._on_bytes if self.progress else None)
        with self._count_lock:
            self.downloaded += n
        if self.progress:
            self.progress.done(b.kind, b.what, b.size or n)


def _largest_first(blob: Blob, done: int = 0) -> tuple[int, int, str]:
    return BLOB, -(blob.size - done if blob.size is not None else _UNKNOWN_SIZE), blob.digest


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
