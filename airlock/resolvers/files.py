"""Pin files: sha256 and size.

Kubespray's sha256 pin plus the size from a HEAD request is enough; the file is downloaded and
hashed only when the server gives no length, when the pin is sha512 (the lock needs a sha256 too),
when nothing is pinned, or with ``verify=True``. A downloaded file that does not match its pin is
an error naming the file and both digests.

Downloads retry and resume with Range like fetch's: a sha256-pinned file goes through the shared
cache's :meth:`airlock.store.Store.download` (so fetch finds it there afterwards), any other file
through :meth:`airlock.net.http.Net.download`, hashing as the bytes arrive.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airlock.digest import Digest
from airlock.errors import DigestMismatch, NetworkError
from airlock.lockfile.model import FilePin
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url
from airlock.store import Store


@dataclass(frozen=True)
class FileRequest:
    name: str
    arch: str
    url: str
    checksum: str | None  # "sha256:<hex>" / "sha512:<hex>" as pinned, or None
    path: str
    kubespray_var: str | None


class FileResolver:
    kind = "file"

    def __init__(self, net: Net, mirrors: Mapping[str, str], *, verify: bool = False, store: Store | None = None):
        self.net, self.mirrors, self.verify = net, dict(mirrors), verify
        self.store = store

    def key(self, request: FileRequest) -> str:
        return request.url

    def resolve(self, request: FileRequest) -> FilePin:
        algo, _, pinned = (request.checksum or "").partition(":")
        what = f"file {request.name} ({request.arch})"
        url = rewrite_url(request.url, self.mirrors)
        sha256 = pinned if algo == "sha256" else None
        size = None
        if sha256 and not self.verify:
            size = self._head_size(url, what)
        sha512 = pinned if algo == "sha512" else None
        if size is None and sha256:
            size = self._cached(url, what, sha256, request.url)
        elif size is None or sha256 is None:
            sha256, sha512_got, size = self._download(url, what, want_sha512=algo == "sha512")
            expected = {"sha256": sha256, "sha512": sha512_got}.get(algo)
            if pinned and expected != pinned:
                raise DigestMismatch(
                    f"{what}: {request.url} has {algo} {expected}, but {pinned} is pinned",
                    what=what, expected=f"{algo}:{pinned}", got=f"{algo}:{expected}", url=request.url,
                    hint="the upstream file changed or a mirror serves another file; do not use it")
        return FilePin(name=request.name, arch=request.arch, url=request.url, sha256=sha256, sha512=sha512,
                       size=size, path=request.path, kubespray_var=request.kubespray_var)

    def _head_size(self, url: str, what: str) -> int | None:
        resp = self.net.request("HEAD", url, what=what)
        if resp.status_code in (405, 501):  # HEAD not allowed: hash the download instead
            return None
        _check_status(resp.status_code, url, what)
        length = resp.headers.get("Content-Length")
        return int(length) if length and length.isdigit() and "gzip" not in resp.headers.get(
            "Content-Encoding", "") else None

    def _cached(self, url: str, what: str, sha256: str, upstream: str) -> int:
        """Download a sha256-pinned file into the shared cache (verified, resumable); its size."""
        store = self.store or Store()
        digest = Digest.from_hex(sha256)

        def opener(offset: int) -> Any:
            headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
            return _Checked(self.net.stream(url, what=what, headers=headers), url, what)

        try:
            store.download(digest, None, opener, what=what, retries=self.net.retries)
        except DigestMismatch as exc:
            raise DigestMismatch(f"{what}: {upstream} has {exc.got}, but sha256 {sha256} is pinned",
                                 what=what, expected=digest, got=exc.got, url=upstream,
                                 hint="the upstream file changed or a mirror serves another file; do not use it") \
                from None
        return store.path(digest).stat().st_size

    def _download(self, url: str, what: str, *, want_sha512: bool) -> tuple[str, str | None, int]:
        hashers: list[Any] = []

        def restart() -> None:
            hashers[:] = [hashlib.sha256(), hashlib.sha512() if want_sha512 else None]

        def write(chunk: bytes) -> None:
            hashers[0].update(chunk)
            if hashers[1]:
                hashers[1].update(chunk)

        restart()
        size = self.net.download(url, what=what, write=write, restart=restart,
                                 check=lambda status: _check_status(status, url, what))
        return hashers[0].hexdigest(), hashers[1].hexdigest() if hashers[1] else None, size


class _Checked:
    """A streamed response whose error statuses raise the resolver's messages (404: check the URL)."""

    def __init__(self, cm: Any, url: str, what: str):
        self.cm, self.url, self.what = cm, url, what

    def __enter__(self) -> Any:
        resp = self.cm.__enter__()
        if resp.status_code not in (200, 206, 416):
            try:
                _check_status(resp.status_code, self.url, self.what)
            finally:
                self.cm.__exit__(None, None, None)
        return resp

    def __exit__(self, *exc: object) -> Any:
        return self.cm.__exit__(*exc)


def _check_status(status: int, url: str, what: str) -> None:
    if status == 404:
        raise NetworkError(f"{what}: {url} not found (404)", hint="check the URL, or that the mirror holds it")
    if status in (401, 403):
        raise NetworkError(f"{what}: {url} denied access ({status})")
    if status != 200:
        raise NetworkError(f"{what}: {url} answered HTTP {status}")
