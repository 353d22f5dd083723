"""The design `airlock serve` did not take, kept runnable so serve_load.py can measure it again.

    python3 benchmarks/serve_threaded.py SITE PORT WORKERS

The same request handling (:class:`airlock.server.site.Site`) behind the standard library's
threaded server instead of the asyncio loop: a listen backlog of 4096, a bounded pool of WORKERS
threads (0: a thread per connection) and a 30 s socket timeout for idle keep-alive connections.
With keep-alive a pool thread stays bound to its connection, so clients beyond WORKERS wait until
a connection closes.
"""

from __future__ import annotations

import os
import socketserver
import sys
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airlock.errors import BadRequest
from airlock.server.protocol import Request, decode_path
from airlock.server.site import Site

SITE: Site


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, fmt: str, *args: Any) -> None:
        print(f'{self.client_address[0]} "{self.requestline}" {args[1] if len(args) > 1 else "-"}', file=sys.stderr)

    def do_GET(self) -> None:
        try:
            path = decode_path(self.path)
        except BadRequest as bad:
            self.send_error(bad.code)
            return
        headers: dict[str, list[str]] = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        resp = SITE.handle(Request(self.command, self.path, path, (1, 1), headers))
        try:
            self.send_response(resp.code)
            for k, v in resp.headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(resp.size))
            self.end_headers()
            if self.command == "HEAD":
                return
            if resp.fd is None:
                self.wfile.write(resp.body)
                return
            self.wfile.flush()
            with open(resp.fd, "rb", closefd=False) as f:
                self.connection.sendfile(f, resp.offset, resp.length)
        finally:
            if resp.fd is not None:
                os.close(resp.fd)

    do_HEAD = do_GET


class PoolServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    request_queue_size = 4096
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], workers: int):
        self.pool = ThreadPoolExecutor(workers) if workers else None
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.pool is None:
            super().process_request(request, client_address)
        else:
            self.pool.submit(self.process_request_thread, request, client_address)


def main() -> None:
    global SITE
    SITE = Site(Path(sys.argv[1]))
    server = PoolServer(("127.0.0.1", int(sys.argv[2])), int(sys.argv[3]))
    server.serve_forever()


if __name__ == "__main__":
    main()
