"""``airlock apply --push``: copy every image of a site to an external registry, byte-exact.

Into ``PREFIX/<upstream host>/<repo>``: first every config and layer of every image, in parallel
with a bound: skipped when the registry has it (one HEAD, only for a blob this run has not pushed
yet), cross-repository mounted when another image already pushed it (a shared layer is uploaded
once; other images wait for it, then mount without a HEAD), else
uploaded (one streamed PUT up to 256 MiB, 64 MiB chunks above). Then, per image, every manifest is
PUT by digest with its exact bytes, the index last, and finally the tag; images of one repository
(``pause:3.10`` and ``pause@sha256:...``) push their manifests one after another and a manifest is
PUT once (distribution rewrites a manifest's link file in place on every PUT, so a concurrent PUT
of the same manifest makes an index PUT beside it see that manifest as unknown). Requests are retried like
every other airlock request; tokens are cached per (realm, service, scopes) and renewed before
they expire (:mod:`airlock.net.tokens`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from airlock.digest import Digest
from airlock.errors import RegistryError
from airlock.lockfile import ImagePin, read_lock
from airlock.net.http import Net
from airlock.net.registry import Registry
from airlock.oci import config_and_layers
from airlock.parallel import run_all
from airlock.reference import ImageRef

MONOLITHIC = 256 << 20  # blobs up to this go in one streamed PUT; larger ones in chunks
CHUNK = 64 << 20


class _FileRange:
    """A re-iterable body (a retry reads it again) streamed from part of a file."""

    def __init__(self, path: Path, offset: int, length: int):
        self.path, self.offset, self.length = path, offset, length

    def __iter__(self) -> Any:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            left = self.length
            while left > 0:
                chunk = f.read(min(1 << 20, left))
                if not chunk:
                    raise OSError(f"{self.path} shrank while being pushed")
                left -= len(chunk)
                yield chunk


@dataclass
class PushOptions:
    target: str                 # REGISTRY[/PREFIX]
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    concurrency: int = 8
    transport: Any = None


class Pusher:
    def __init__(self, site: Path, opts: PushOptions):
        self.store = site / "oci" / "blobs" / "sha256"
        host, _, prefix = opts.target.partition("/")
        self.host, self.prefix = host, prefix.strip("/")
        net = Net(ca_file=opts.ca_file, insecure_hosts=frozenset({host}) if opts.insecure else frozenset(),
                  transport=opts.transport, concurrency=opts.concurrency)
        self.registry = Registry(net, {}, credentials=(opts.user, opts.password) if opts.user else None)
        self.base = f"{net.scheme(host)}://{host}"
        self.net = net
        self.where: dict[str, str] = {}  # blob digest -> a repository that has it
        self.inflight: dict[str, threading.Event] = {}  # blobs being uploaded by another thread
        self.manifests: set[tuple[str, str]] = set()  # (repository, digest) PUT by this run
        self.lock = threading.Lock()
        self.stats = {"images": 0, "blobs_uploaded": 0, "blobs_mounted": 0, "blobs_present": 0}

    def repo_for(self, ref: ImageRef) -> str:
        """The repository an image is pushed to: its upstream name under the target's prefix, as the
        site serves it and as offline.yml names it (``REG/prefix/registry.k8s.io/pause``)."""
        return f"{self.prefix}/{ref.name}" if self.prefix else ref.name

    def _count(self, key: str) -> None:
        with self.lock:
            self.stats[key] += 1

    def _blob(self, repo: str, digest: str, what: str) -> None:
        with self.lock:
            busy = self.inflight.get(digest)
            if busy is None and digest not in self.where:
                self.inflight[digest] = threading.Event()
        if busy is not None:  # another image is uploading this shared layer: wait, then mount it
            busy.wait()
        try:
            self._blob_once(repo, digest, what)
        finally:
            if busy is None:
                with self.lock:
                    event = self.inflight.pop(digest, None)
                if event:
                    event.set()

    def _blob_once(self, repo: str, digest: str, what: str) -> None:
        with self.lock:
            source = self.where.get(digest)
        if source == repo:
            return
        # not pushed by this run: the registry may have it from an earlier one
        if source is None and self.registry.call(self.base, repo, "HEAD", f"blobs/{digest}", what=what, push=True,
                                                 ok=(200, 404)).status_code == 200:
            self._count("blobs_present")
            with self.lock:
                self.where.setdefault(digest, repo)
            return
        # Pushed to another repository by this run: mount it, no HEAD first (a registry that
        # cannot mount answers 202 and the bytes are uploaded). A mount needs pull on the source too.
        params = {"mount": digest, "from": source} if source else None
        also = (f"repository:{source}:pull",) if source else ()
        resp = self.registry.call(self.base, repo, "POST", "blobs/uploads/", what=what, push=True, params=params,
                                  also=also, ok=(201, 202))
        if resp.status_code == 201:
            self._count("blobs_mounted")
        else:
            self._upload(resp, repo, digest, what)
            self._count("blobs_uploaded")
        with self.lock:
            self.where.setdefault(digest, repo)

    def _upload(self, resp: Any, repo: str, digest: str, what: str) -> None:
        path = self.store / Digest(digest).hex
        size = path.stat().st_size
        location = urljoin(self.base + "/", resp.headers["Location"])
        octet = {"Content-Type": "application/octet-stream"}
        if size <= MONOLITHIC:
            final = self.registry.call_url(_with_digest(location, digest), repo, "PUT", what=what,
                                           content=_FileRange(path, 0, size), ok=(201,),
                                           headers={**octet, "Content-Length": str(size)})
        else:
            offset = 0
            while offset < size:
                n = min(CHUNK, size - offset)
                r = self.registry.call_url(location, repo, "PATCH", what=what, content=_FileRange(path, offset, n),
                                           ok=(202,), headers={**octet, "Content-Length": str(n),
                                                               "Content-Range": f"{offset}-{offset + n - 1}"})
                location = urljoin(self.base + "/", r.headers["Location"])
                offset += n
            final = self.registry.call_url(_with_digest(location, digest), repo, "PUT", what=what, ok=(201,),
                                           headers={"Content-Length": "0"})
        got = final.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise RegistryError(f"{what}: the registry stored {digest} as {got}")

    def _manifest(self, repo: str, reference: str, digest: str, what: str) -> None:
        if reference == digest and (repo, digest) in self.manifests:
            return
        body = (self.store / Digest(digest).hex).read_bytes()
        media_type = json.loads(body).get("mediaType")
        resp = self.registry.call(self.base, repo, "PUT", f"manifests/{reference}", what=what, push=True,
                                  content=body, headers={"Content-Type": media_type}, ok=(201,))
        got = resp.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise RegistryError(f"{what}: the registry stored manifest {digest} as {got}",
                                hint="the registry re-serialized the manifest; airlock only pushes byte-exact")
        if reference == digest:
            self.manifests.add((repo, digest))

    def blobs_of(self, img: ImagePin) -> list[tuple[str, str, str]]:
        """(repo, digest, what) for every config and layer of an image."""
        repo, what, out = self.repo_for(img.ref), f"push {img.ref}", []
        for p in img.platforms:
            doc = json.loads((self.store / p.digest.hex).read_bytes())
            out += [(repo, d["digest"], what) for d in config_and_layers(doc)]
        return list(dict.fromkeys(out))

    def push_manifests(self, img: ImagePin) -> None:
        repo = self.repo_for(img.ref)
        what = f"push {img.ref}"
        for p in img.platforms:
            self._manifest(repo, p.digest, p.digest, what)
        if img.target != "platform":
            try:
                self._manifest(repo, img.target_digest, img.target_digest, what)
            except RegistryError as exc:
                raise self._partial_index(img, exc) from None
        if img.ref.tag:  # a reference pinned by digest only is pulled by that digest (pushed above)
            self._manifest(repo, img.ref.tag, img.target_digest, what)
        self._count("images")

    def push_repository(self, images: list[ImagePin]) -> None:
        """The manifests of every image of one repository, in order (see the module docstring)."""
        for img in images:
            self.push_manifests(img)

    def _partial_index(self, img: ImagePin, exc: RegistryError) -> RegistryError:
        """``exc``, explained when the refused index is a digest-pinned one the bundle has only some
        platforms of (distribution checks that every manifest an index lists is in the repository)."""
        doc = json.loads((self.store / img.target_digest.hex).read_bytes())
        listed = len(doc.get("manifests") or []) if isinstance(doc, dict) else 0
        if img.ref.digest is None or listed <= len(img.platforms):
            return exc
        arches = ", ".join(p.arch for p in img.platforms)
        return RegistryError(exc.message, hint=f"{img.ref} is pinned by digest to an index of {listed} manifests; the "
                                               f"bundle holds the requested ones ({arches}) and this registry takes "
                                               "an index only with all of them: request every arch it lists, pin the "
                                               "image by tag, or push to a registry that accepts it")


def _with_digest(location: str, digest: str) -> str:
    """The upload URL keeps the registry's own query (upload state); ``digest`` is added to it."""
    return f"{location}{'&' if '?' in location else '?'}digest={digest.replace(':', '%3A')}"


def push_site(site: Path, opts: PushOptions) -> dict[str, int]:
    """Blobs of every image first (all in parallel, each shared blob uploaded once), then manifests."""
    lock = read_lock(site / "airlock.lock")
    pusher = Pusher(site, opts)
    images = sorted(lock.image, key=lambda i: i.ref)
    try:
        blob_jobs = [job for img in images for job in pusher.blobs_of(img)]
        run_all([partial(pusher._blob, *j) for j in blob_jobs], opts.concurrency)
        by_repo: dict[str, list[ImagePin]] = {}
        for img in images:
            by_repo.setdefault(pusher.repo_for(img.ref), []).append(img)
        run_all([partial(pusher.push_repository, imgs) for _, imgs in sorted(by_repo.items())], opts.concurrency)
    finally:
        pusher.net.close()
    return dict(pusher.stats)
