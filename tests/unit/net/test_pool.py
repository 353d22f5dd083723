"""Connection reuse: with N requests in flight, a host's pool keeps N connections alive (no new
handshakes round after round); each host gets a pool of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airlock.net.http import Net

WIDTH = 32  # requests in flight at once: more than httpx's default of 20 kept-alive connections
ROUNDS = 3


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


@pytest.fixture
def server() -> Iterator[tuple[str, list[int], threading.Barrier]]:
    accepted: list[int] = []
    gate = threading.Barrier(WIDTH, timeout=20)  # every round has all WIDTH requests open at once

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def setup(self) -> None:
            accepted.append(1)
            super().setup()

        def do_GET(self) -> None:
            gate.wait()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    srv = _Server(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)  # shutdown() returns within 0.05 s
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/x", accepted, gate
    srv.shutdown()
    srv.server_close()


def test_pool_keeps_one_connection_per_request_in_flight(server: tuple[str, list[int], threading.Barrier]) -> None:
    url, accepted, _ = server
    host = url.split("/")[2]
    net = Net(insecure_hosts=frozenset({host}), concurrency=WIDTH, retries=0)
    between = threading.Barrier(WIDTH, timeout=20)  # a round ends (connections back in the pool) before the next
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(ROUNDS):
                assert net.request("GET", url, what="test").status_code == 200
                between.wait()
        except BaseException as exc:  # noqa: BLE001 - reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WIDTH)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    net.close()
    assert not errors, errors
    assert len(accepted) == WIDTH  # httpx's default pool: WIDTH + (ROUNDS - 1) * (WIDTH - 20)


def test_each_host_has_its_own_pool_sized_to_the_concurrency() -> None:
    net = Net(concurrency=24)
    a, b = net.client("a.example"), net.client("b.example:5000")
    assert a is not b and net.client("a.example") is a
    for c in (a, b):
        pool = c._transport._pool  # httpcore's pool: where the limits live
        assert (pool._max_connections, pool._max_keepalive_connections) == (48, 24)
    net.close()
