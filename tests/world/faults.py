"""A fault-injecting HTTP proxy on 127.0.0.1 for fetch tests.

It forwards to an upstream (nginx or docker-registry), passing Range headers through, except for
requests whose path contains a configured substring, which get the next scripted fault:
``reset`` (half the body, then a TCP reset), ``truncate`` (half the body, then a clean close),
``500`` / ``429`` (an error status; 429 with Retry-After: 0), ``wrong`` (right length, wrong bytes),
``slow`` (the body trickled out, for kill -9 tests) or ``ok`` (pass through). Every request is logged.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler

from tests.world.servers import HOST, BackgroundHTTP, free_port


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.faults: dict[str, list[str]] = {}
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, range)
        self._lock = threading.Lock()
        self._server: BackgroundHTTP | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def script(self, path_part: str, *faults: str) -> None:
        with self._lock:
            self.faults[path_part] = list(faults)

    def _next_fault(self, path: str) -> str:
        with self._lock:
            for part, queue in self.faults.items():
                if part in path and queue:
                    return queue.pop(0) if len(queue) > 1 or queue[0] != "slow" else queue[0]
        return "ok"

    def __enter__(self) -> "FaultProxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                rng = self.headers.get("Range")
                with proxy._lock:
                    proxy.log.append((method, self.path, rng))
                fault = proxy._next_fault(self.path)
                if fault in ("500", "429"):
                    self.send_response(int(fault))
                    if fault == "429":
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("range", "accept", "authorization")}
                req = urllib.request.Request(proxy.upstream + self.path, method=method, headers=headers)
                try:
                    resp = urllib.request.urlopen(req)
                except urllib.error.HTTPError as err:
                    resp = err
                body = resp.read() if method == "GET" else b""
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    if k.lower() not in ("connection", "transfer-encoding", "server", "date"):
                        self.send_header(k, v)
                self.end_headers()
                if method != "GET":
                    return
                if fault == "wrong" and body:
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                if fault in ("reset", "truncate") and len(body) > 1:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    if fault == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "slow":
                    for i in range(0, len(body), 16384):
                        self.wfile.write(body[i:i + 16384])
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

        self._server = BackgroundHTTP(self.port, Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.stop()
