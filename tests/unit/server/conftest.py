"""A real `airlock serve` (the asyncio server, in a thread) over a small site with hostile links."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from airlock.server.http import SiteServer, serve
from airlock.server.protocol import Limits

SECRET = b"outside DIR: never served\n"


def _blob(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return "sha256:" + digest


def make_site(root: Path) -> Path:
    """DIR with files, a PyPI index, one OCI image, and links of every kind pointing in and out."""
    site, outside = root / "site", root / "outside"
    outside.mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "blob").write_bytes(SECRET)
    files = site / "files" / "dl.example"
    files.mkdir(parents=True)
    (files / "big.bin").write_bytes(bytes(range(256)) * 1024)  # 256 KiB: sent with sendfile
    (files / "small.txt").write_bytes(b"0123456789abcdef")
    (files / "empty").write_bytes(b"")
    (site / "airlock.lock").write_text("# not under a served tree\n")
    (site / ".airlock").mkdir()  # what marks a site `airlock apply` made: serve refuses any other DIR
    (site / ".airlock" / "state.json").write_text('{"applied": [], "current": null}\n')
    (site / "pypi" / "simple" / "pkg").mkdir(parents=True)
    (site / "pypi" / "simple" / "pkg" / "index.html").write_text("<html>pkg</html>")
    (site / "pypi" / "simple" / "pkg" / "index.json").write_text('{"name": "pkg"}')
    (site / "files" / "linked-dir").symlink_to(outside)                       # a directory link out of DIR
    (site / "files" / "inner-dir").symlink_to(files)                          # a directory link inside DIR
    (files / "linked-file").symlink_to(outside / "secret.txt")                # a file link out of DIR
    (files / "inner-file").symlink_to(files / "small.txt")                    # a file link inside DIR
    (files / "lock-link").symlink_to(site / "airlock.lock")
    os.mkfifo(files / "fifo")                                                 # never opened for reading
    layout = site / "oci"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    config = _blob(layout, b'{"architecture": "amd64", "os": "linux"}')
    layer = _blob(layout, bytes(100_000))
    linked = "sha256:" + hashlib.sha256(SECRET).hexdigest()
    (layout / "blobs" / "sha256" / linked.split(":")[1]).symlink_to(outside / "blob")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                                      "size": 1},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                                       "size": 100_000},
                                      {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": linked,
                                       "size": len(SECRET)}]}).encode()
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _blob(layout, manifest),
         "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "example.org/app:1.0"}}]}
    (layout / "index.json").write_text(json.dumps(index))
    return site


@contextmanager
def running(site: Path, **limits: float) -> Iterator[tuple[int, io.StringIO]]:
    """(port, access log) of `airlock serve SITE` with these Limits, stopped on exit."""
    log = io.StringIO()
    box: list[SiteServer] = []
    up = threading.Event()

    def ready(server: SiteServer) -> None:
        box.append(server)
        up.set()

    thread = threading.Thread(target=serve, args=(site, "127.0.0.1", 0), daemon=True,
                              kwargs={"log": log, "ready": ready, "limits": Limits(**limits)})  # type: ignore[arg-type]  # limits holds Limits' own field names
    thread.start()
    assert up.wait(60), "serve did not start"
    try:
        yield box[0].port, log
    finally:
        box[0].stop()
        thread.join(60)
        assert not thread.is_alive()
        assert "airlock serve: stopped" in log.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def port(site: Path) -> Iterator[int]:
    with running(site, idle_timeout=30, header_timeout=30) as (p, _):
        yield p


def raw(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Send DATA on a fresh connection and read until the server closes it (a hang fails the test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


Get = Callable[..., tuple[int, dict[str, str], bytes]]
