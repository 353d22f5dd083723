"""`airlock serve` answers: files, registry, ranges (RFC 9110), and no symlink is ever followed."""

from __future__ import annotations

import hashlib
import http.client
import json
from pathlib import Path

import pytest

from tests.unit.server.conftest import SECRET, raw, running, status


def get(port: int, path: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_files_and_head(site: Path, port: int) -> None:
    big = (site / "files/dl.example/big.bin").read_bytes()
    code, headers, body = get(port, "/files/dl.example/big.bin")
    assert code == 200 and body == big and headers["accept-ranges"] == "bytes"
    code, headers, body = get(port, "/files/dl.example/big.bin", "HEAD")
    assert code == 200 and body == b"" and headers["content-length"] == str(len(big))
    assert get(port, "/files/dl.example/small.txt")[2] == b"0123456789abcdef"
    assert get(port, "/files/dl.example/empty")[:1] == (200,)
    assert get(port, "/files//dl.example/./small.txt")[2] == b"0123456789abcdef"
    assert get(port, "/files/dl.example/small.txt?x=1")[2] == b"0123456789abcdef"
    assert get(port, "/files/dl.example/nope")[0] == 404
    assert get(port, "/files/dl.example")[0] == 404  # a directory without an index page
    assert get(port, "/files/dl.example/fifo")[0] == 404


def test_pypi_index_pages(port: int) -> None:
    code, headers, body = get(port, "/pypi/simple/pkg/")
    assert code == 200 and body == b"<html>pkg</html>" and headers["vary"] == "Accept"
    code, headers, body = get(port, "/pypi/simple/pkg/", Accept="application/vnd.pypi.simple.v1+json")
    assert code == 200 and json.loads(body) == {"name": "pkg"}


def test_registry(site: Path, port: int) -> None:
    assert get(port, "/v2/")[:1] == (200,)
    assert json.loads(get(port, "/v2/_catalog")[2]) == {"repositories": ["example.org/app"]}
    assert json.loads(get(port, "/v2/example.org/app/tags/list")[2]) == {"name": "example.org/app", "tags": ["1.0"]}
    code, headers, body = get(port, "/v2/example.org/app/manifests/1.0")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    assert code == 200 and headers["docker-content-digest"] == digest
    assert headers["content-type"] == "application/vnd.oci.image.manifest.v1+json"
    assert get(port, f"/v2/example.org/app/manifests/{digest}")[2] == body
    layer = json.loads(body)["layers"][0]["digest"]
    code, headers, blob = get(port, f"/v2/example.org/app/blobs/{layer}")
    assert code == 200 and hashlib.sha256(blob).hexdigest() == layer.split(":")[1]
    code, _, part = get(port, f"/v2/example.org/app/blobs/{layer}", Range="bytes=10-19")
    assert code == 206 and part == blob[10:20]
    for path, err in (("/v2/nope/tags/list", "NAME_UNKNOWN"), ("/v2/example.org/app/manifests/2.0", "MANIFEST_UNKNOWN"),
                      (f"/v2/example.org/app/blobs/sha256:{'0' * 64}", "BLOB_UNKNOWN")):
        code, _, body = get(port, path)
        assert code == 404 and json.loads(body)["errors"][0]["code"] == err
    assert get(port, "/v2/x/blobs/uploads/", "POST")[0] == 405
    assert get(port, "/v2/example.org/app/manifests/1.0", "DELETE")[0] == 405


@pytest.mark.parametrize(("value", "code", "expect"), [
    ("bytes=0-1", 206, slice(0, 2)),
    ("BYTES=0-1", 206, slice(0, 2)),          # range units are case-insensitive
    ("Bytes=-3", 206, slice(13, 16)),
    ("bytes=10-", 206, slice(10, 16)),
    ("bytes=10-1000", 206, slice(10, 16)),
    ("items=0-1", 200, slice(0, 16)),         # an unknown unit is ignored: the whole file
    ("bytes=5-2", 200, slice(0, 16)),         # not a valid range: ignored
    ("bytes=0-1,4-5", 200, slice(0, 16)),     # several ranges: served whole
    ("bytes=abc", 200, slice(0, 16)),
    ("bytes=16-", 416, slice(0, 0)),          # well-formed but outside the file
    ("bytes=-0", 416, slice(0, 0)),
])
def test_ranges(port: int, value: str, code: int, expect: slice) -> None:
    got, headers, body = get(port, "/files/dl.example/small.txt", Range=value)
    assert got == code
    assert body == b"0123456789abcdef"[expect]
    if code == 206:
        assert headers["content-range"] == f"bytes {expect.start}-{expect.stop - 1}/16"
    if code == 416:
        assert headers["content-range"] == "bytes */16"


def test_if_range_and_head_ignore_range(port: int) -> None:
    assert get(port, "/files/dl.example/small.txt", Range="bytes=0-1", **{"If-Range": '"x"'})[0] == 200
    code, headers, _ = get(port, "/files/dl.example/small.txt", "HEAD", Range="bytes=0-1")
    assert code == 200 and headers["content-length"] == "16"


@pytest.mark.parametrize("path", [
    "/files/linked-dir/secret.txt",            # a symlinked directory inside DIR pointing out
    "/files/inner-dir/small.txt",              # ... and one pointing inside DIR: not followed either
    "/files/dl.example/linked-file",           # a file link out of DIR
    "/files/dl.example/inner-file",
    "/files/dl.example/lock-link",
    "/files/../airlock.lock",
    "/files/%2e%2e/airlock.lock",
    "/files/dl.example/..%2f..%2fairlock.lock",
    "/oci/index.json",
    "/airlock.lock",
])
def test_links_and_escapes_are_not_served(port: int, path: str) -> None:
    code, _, body = get(port, path)
    assert code == 404 and SECRET not in body


def test_linked_blob_is_not_served(port: int) -> None:
    linked = "sha256:" + hashlib.sha256(SECRET).hexdigest()
    code, _, body = get(port, f"/v2/example.org/app/blobs/{linked}")
    assert code == 404 and SECRET not in body


def test_linked_tree_root_is_not_served(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_bytes(SECRET)
    site.mkdir()
    (site / "files").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "via-link").symlink_to(site)  # DIR itself given through a link is fine
    with running(tmp_path / "via-link") as (port, log):
        assert get(port, "/files/f")[0] == 404
        assert get(port, "/v2/_catalog")[2] == b'{"repositories": []}'
    assert '"GET /files/f" 404' in log.getvalue()


def test_access_log(site: Path) -> None:
    with running(site) as (port, log):
        get(port, "/files/dl.example/small.txt")
        raw(port, b"nonsense\r\n\r\n")
    lines = log.getvalue().splitlines()
    assert '127.0.0.1 "GET /files/dl.example/small.txt" 200 16' in lines
    assert any(line.startswith('127.0.0.1 "-" 400') for line in lines)


def test_http10_and_pipelining(port: int) -> None:
    out = raw(port, b"GET /files/dl.example/small.txt HTTP/1.0\r\n\r\n")
    assert status(out) == 200 and out.endswith(b"0123456789abcdef") and b"Connection: close" in out
    two = (b"GET /files/dl.example/small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
           b"HEAD /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = raw(port, two)
    assert out.count(b"HTTP/1.1 200 OK") == 2 and b"0123456789abcdef" in out
    absolute = raw(port, b"GET http://127.0.0.1/files/dl.example/small.txt HTTP/1.1\r\nHost: x\r\n"
                         b"Connection: close\r\n\r\n")
    assert status(absolute) == 200
