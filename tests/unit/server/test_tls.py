"""`airlock serve` over TLS with the certificate `apply --tls-generate` makes: big files (sendfile's
copying fallback), ranges, keep-alive; clients that do not trust the site CA are refused."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from airlock.apply.tls import server_files, site_tls, tls_names, write_tls
from airlock.cli import apply  # noqa: F401  (registers the commands)
from airlock.cli.main import cli
from airlock.server.http import SiteServer, serve
from airlock.server.protocol import Limits
from airlock.server.tls import server_context
from tests.unit.server.conftest import make_site


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("pki")
    write_tls(dest, site_tls(dest, tls_names("127.0.0.1", "localhost")))
    return dest


@contextmanager
def serving(site: Path, pki: Path) -> Iterator[int]:
    box: list[SiteServer] = []
    up = threading.Event()
    thread = threading.Thread(target=serve, args=(site, "127.0.0.1", 0), daemon=True,
                              kwargs={"ready": lambda s: (box.append(s), up.set()), "limits": Limits(),
                                      "tls": server_context(*server_files(pki)), "log": io.StringIO()})
    thread.start()
    assert up.wait(60)
    try:
        yield box[0].port
    finally:
        box[0].stop()
        thread.join(60)


@pytest.fixture(scope="module")
def tls_port(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[int]:
    with serving(make_site(tmp_path_factory.mktemp("tlsserve")), pki) as port:
        yield port


def _client(pki: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki / "node/ca.crt" if (pki / "node/ca.crt").exists()
                                                 else pki / "admin/tls/ca.crt"))


def test_big_file_ranges_and_keep_alive_over_tls(tls_port: int, pki: Path) -> None:
    conn = http.client.HTTPSConnection("127.0.0.1", tls_port, timeout=20, context=_client(pki))
    try:
        conn.request("GET", "/files/dl.example/big.bin")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200 and body == bytes(range(256)) * 1024  # 256 KiB: above the inline size
        conn.request("GET", "/files/dl.example/big.bin", headers={"Range": "bytes=100000-"})
        resp = conn.getresponse()  # the same connection: kept alive after a sendfile over TLS
        assert resp.status == 206 and resp.read() == body[100000:]
        conn.request("GET", "/v2/example.org/app/blobs/sha256:" + hashlib.sha256(bytes(100_000)).hexdigest())
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == bytes(100_000)
    finally:
        conn.close()


def test_untrusted_and_plain_clients_are_refused(tls_port: int, pki: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", tls_port), timeout=20) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", tls_port), timeout=20) as s:  # plain HTTP to the TLS port
        s.sendall(b"GET /files/dl.example/small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
        assert b"0123456789abcdef" not in got
    # the server is still fine afterwards, and the certificate names the host given
    with socket.create_connection(("127.0.0.1", tls_port), timeout=20) as raw:
        with _client(pki).wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3")


def test_serve_refuses_bad_tls_files(tmp_path: Path, pki: Path) -> None:
    site = make_site(tmp_path)
    other = tmp_path / "other"
    write_tls(other, site_tls(other, ["127.0.0.1"]))
    cert, _ = server_files(pki)
    _, wrong_key = server_files(other)
    runner = CliRunner()
    for args, message in ((["--tls-cert", str(cert)], "go together"),
                          (["--tls-cert", str(cert), "--tls-key", str(wrong_key)], "not a usable certificate and key"),
                          (["--tls-cert", str(tmp_path / "nope.crt"), "--tls-key", str(wrong_key)], "nope.crt")):
        res = runner.invoke(cli, ["serve", str(site), "--listen", "127.0.0.1:1", *args])
        assert res.exit_code == 2 and message in res.output, res.output


def test_a_file_shrinking_while_sent_over_tls_ends_that_response_only(tmp_path: Path, pki: Path) -> None:
    site = make_site(tmp_path)
    huge = site / "files" / "dl.example" / "huge.bin"
    with huge.open("wb") as f:
        f.truncate(64 << 20)
    with serving(site, pki) as port:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=_client(pki))
        try:
            conn.request("GET", "/files/dl.example/huge.bin")
            resp = conn.getresponse()
            assert resp.status == 200 and len(resp.read(1 << 20)) == 1 << 20
            os.truncate(huge, 2 << 20)
            with pytest.raises(http.client.IncompleteRead):
                resp.read()  # the promised length cannot be kept: the connection is closed, not padded
        finally:
            conn.close()
        again = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=_client(pki))
        try:
            again.request("GET", "/files/dl.example/small.txt")
            assert again.getresponse().read() == b"0123456789abcdef"
        finally:
            again.close()
