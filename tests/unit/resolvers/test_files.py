"""Pinning files: a served file that differs from its pin is refused with both digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from airlock.errors import DigestMismatch
from airlock.net.http import Net
from airlock.resolvers.files import FileRequest, FileResolver
from airlock.store import Store

BODY = b"kubelet binary" * 100
SHA256 = hashlib.sha256(BODY).hexdigest()
URL = "https://dl.example/kubelet"


def resolver(tmp_path: Path, body: bytes, *, verify: bool) -> FileResolver:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(len(body))},
                              stream=httpx.ByteStream(b"" if request.method == "HEAD" else body))
    net = Net(transport=httpx.MockTransport(handler), retries=0, backoff=0)
    return FileResolver(net, {}, verify=verify, store=Store(tmp_path))


def request(checksum: str | None) -> FileRequest:
    return FileRequest(name="kubelet", arch="amd64", url=URL, checksum=checksum, path="k/kubelet",
                       kubespray_var="kubelet_download_url")


def test_a_pinned_file_gets_its_size_from_head(tmp_path: Path) -> None:
    pin = resolver(tmp_path, BODY, verify=False).resolve(request(f"sha256:{SHA256}"))
    assert (pin.sha256, pin.size, pin.sha512) == (SHA256, len(BODY), None)


def test_verify_downloads_and_refuses_other_bytes(tmp_path: Path) -> None:
    bad = BODY + b"!"
    with pytest.raises(DigestMismatch) as caught:
        resolver(tmp_path, bad, verify=True).resolve(request(f"sha256:{SHA256}"))
    err = caught.value
    got = f"sha256 sha256:{hashlib.sha256(bad).hexdigest()}, size {len(bad)}"
    assert err.message == f"file kubelet (amd64): {URL} has {got}, but sha256 {SHA256} is pinned"
    assert (err.expected, err.got, err.url) == (f"sha256:{SHA256}", got, URL)
    assert err.hint and "do not use it" in err.hint


def test_a_sha512_pin_is_checked_and_the_lock_gets_a_sha256(tmp_path: Path) -> None:
    sha512 = hashlib.sha512(BODY).hexdigest()
    pin = resolver(tmp_path, BODY, verify=False).resolve(request(f"sha512:{sha512}"))
    assert (pin.sha256, pin.sha512, pin.size) == (SHA256, sha512, len(BODY))
    with pytest.raises(DigestMismatch, match=f"has sha512 [0-9a-f]{{128}}, but {sha512} is pinned"):
        resolver(tmp_path, BODY + b"x", verify=False).resolve(request(f"sha512:{sha512}"))
