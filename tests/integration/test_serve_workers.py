"""`airlock serve --workers N` as a process: N workers answer (over TLS too), a killed worker is replaced,
SIGTERM stops all. Integration tests: they start airlock and its worker processes (moved from tests/unit/server)."""

from __future__ import annotations

import http.client
import io
import os
import signal
import ssl
import time
import urllib.request
from pathlib import Path

import pytest

from airlock.apply.tls import server_files, site_tls, tls_names, write_tls
from tests.helpers import airlock_serve
from tests.unit.server.conftest import make_site

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("serve"))


def _children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _get(url: str) -> bytes:
    deadline = time.monotonic() + 60
    while True:
        try:
            return urllib.request.urlopen(url, timeout=10).read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_workers_serve_are_replaced_and_stop(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("w") as out, airlock_serve(site, "--workers", "2", log=out) as served:
        url = f"{served.url}/files/dl.example/small.txt"
        for _ in range(20):
            assert _get(url) == b"0123456789abcdef"
        workers = _children(served.proc.pid)
        assert len(workers) == 2
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(_children(served.proc.pid) - workers) < 1:  # a replacement comes up
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        for _ in range(20):
            assert _get(url) == b"0123456789abcdef"
    text = log.read_text()  # airlock_serve stopped it with SIGTERM and saw exit 0
    assert "starting another" in text
    assert "2 worker processes" in text and text.rstrip().endswith("airlock serve: stopped")
    # the killed worker may have answered its last request without having logged it yet
    assert text.count('"GET /files/dl.example/small.txt" 200 16') >= 39


def test_worker_processes_serve_tls(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    write_tls(pki, site_tls(pki, tls_names("127.0.0.1", "localhost")))
    cert, key = server_files(pki)
    client = ssl.create_default_context(cafile=str(pki / "node/ca.crt" if (pki / "node/ca.crt").exists()
                                                   else pki / "admin/tls/ca.crt"))
    log = io.StringIO()
    with airlock_serve(make_site(tmp_path), "--workers", "2", "--tls-cert", str(cert), "--tls-key", str(key),
                       log=log) as served:  # stopped with SIGTERM on exit, and must exit 0
        conn = http.client.HTTPSConnection("127.0.0.1", int(served.url.rsplit(":", 1)[1]), timeout=20,
                                           context=client)
        conn.request("GET", "/files/dl.example/big.bin")
        assert conn.getresponse().read() == bytes(range(256)) * 1024
        conn.close()
    err = log.getvalue()
    assert "on https://127.0.0.1" in err and "2 worker processes" in err, err
