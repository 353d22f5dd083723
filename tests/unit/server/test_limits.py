"""Bounded resources: idle and slow connections are closed, connections are capped, 200 clients all succeed.

No timing assertions: a test only requires that something happens eventually, within a generous bound.
"""

from __future__ import annotations

import http.client
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.unit.server.conftest import running, status

BOUND = 30.0  # seconds after which "eventually" has failed


def closed_eventually(s: socket.socket) -> bytes:
    """Everything the server sends until it closes S; raises socket.timeout if it never does."""
    s.settimeout(BOUND)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_idle_connection_is_closed(site: Path) -> None:
    with running(site, idle_timeout=0.2, header_timeout=30) as (port, _):
        with socket.create_connection(("127.0.0.1", port)) as s:  # connects, never sends
            assert closed_eventually(s) == b""
        with socket.create_connection(("127.0.0.1", port)) as s:  # one request, then idle on keep-alive
            s.sendall(b"GET /files/dl.example/small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            out = closed_eventually(s)
            assert status(out) == 200 and out.endswith(b"0123456789abcdef")


def test_slow_request_head_gets_408(site: Path) -> None:
    """Slowloris: a head trickled byte by byte is cut off by the header timeout, although every
    single byte arrives well within the idle timeout."""
    with running(site, idle_timeout=60, header_timeout=0.25) as (port, _), \
            socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /files/dl.example/small.txt HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + BOUND
        try:
            while time.monotonic() < deadline and not select.select([s], [], [], 0.05)[0]:
                s.sendall(b"X")  # until the server answers (or closes): then it is read below
        except OSError:
            pass  # closed by the server while we were still trickling
        assert status(closed_eventually(s)) == 408


def test_connection_limit_closes_idle_connections_first(site: Path) -> None:
    with running(site, idle_timeout=60, max_connections=3) as (port, _):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            for s in idle:  # make sure the server has accepted each of them
                s.sendall(b"HEAD /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
                assert status(s.recv(4096)) == 200
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=BOUND)
            conn.request("GET", "/files/dl.example/small.txt")
            assert conn.getresponse().read() == b"0123456789abcdef"
            conn.close()
            # one idle connection made room for the new one
            closed = 0
            for s in select.select(idle, [], [], BOUND)[0]:  # the ones with news: the closed one(s)
                try:
                    closed += s.recv(1) == b""
                except ConnectionError:
                    closed += 1
            assert closed >= 1
        finally:
            for s in idle:
                s.close()


def test_200_parallel_clients_all_succeed(site: Path) -> None:
    big = (site / "files/dl.example/big.bin").read_bytes()

    def client(i: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        ok = 0
        try:
            for path, want in (("/files/dl.example/small.txt", b"0123456789abcdef"), ("/v2/", b"{}"),
                               ("/files/dl.example/big.bin", big)):
                conn.request("GET", path)
                resp = conn.getresponse()
                ok += resp.status == 200 and resp.read() == want
        finally:
            conn.close()
        return ok

    with running(site, idle_timeout=60) as (port, log), ThreadPoolExecutor(200) as pool:
        results = list(pool.map(client, range(200)))
    assert results == [3] * 200
    assert log.getvalue().count('"GET /files/dl.example/big.bin" 200') == 200


def test_connection_limit_answers_503_when_no_connection_is_idle(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "files").mkdir(parents=True)
    with (site / "files" / "huge").open("wb") as f:
        f.truncate(256 << 20)  # sparse: more than any socket buffer holds
    with running(site, max_connections=1) as (port, log), socket.create_connection(("127.0.0.1", port)) as busy:
        busy.sendall(b"GET /files/huge HTTP/1.1\r\nHost: x\r\n\r\n")
        busy.settimeout(BOUND)
        assert status(busy.recv(4096)) == 200  # its answer is under way, and we stop reading it
        with socket.create_connection(("127.0.0.1", port)) as other:
            other.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status(closed_eventually(other)) == 503
    assert '"-" 503' in log.getvalue()
