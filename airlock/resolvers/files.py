"""Pin files: sha256 and size.

Kubespray's sha256 pin plus the size from a HEAD request is enough; the file is downloaded and
hashed only when the server gives no length, when the pin is sha512 (the lock needs a sha256 too),
when nothing is pinned, or with ``verify=True``. A downloaded file that does not match its pin is
an error naming the file and both digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from airlock.errors import NetworkError
from airlock.lockfile.model import FilePin
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url


class ChecksumMismatch(NetworkError):
    """A served file does not match the digest Kubespray (or airlock.yaml) pins."""


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

    def __init__(self, net: Net, mirrors: Mapping[str, str], *, verify: bool = False):
        self.net, self.mirrors, self.verify = net, dict(mirrors), verify

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
        if size is None:
            sha256, sha512_got, size = self._download(url, what, want_sha512=algo == "sha512")
            expected = {"sha256": sha256, "sha512": sha512_got}.get(algo)
            if pinned and expected != pinned:
                raise ChecksumMismatch(
                    f"{what}: {request.url} has {algo} {expected}, but {pinned} is pinned",
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

    def _download(self, url: str, what: str, *, want_sha512: bool) -> tuple[str, str | None, int]:
        h256, h512, size = hashlib.sha256(), hashlib.sha512() if want_sha512 else None, 0
        with self.net.stream(url, what=what, headers={"Accept-Encoding": "identity"}) as resp:
            _check_status(resp.status_code, url, what)
            for chunk in resp.iter_raw(1 << 20):
                h256.update(chunk)
                if h512:
                    h512.update(chunk)
                size += len(chunk)
        return h256.hexdigest(), h512.hexdigest() if h512 else None, size


def _check_status(status: int, url: str, what: str) -> None:
    if status == 404:
        raise NetworkError(f"{what}: {url} not found (404)", hint="check the URL, or that the mirror holds it")
    if status in (401, 403):
        raise NetworkError(f"{what}: {url} denied access ({status})")
    if status != 200:
        raise NetworkError(f"{what}: {url} answered HTTP {status}")
