"""``airlock serve``: one asyncio HTTP/1.1 server for a site: ``/files/``, ``/rpms/``, ``/debs/``, ``/pypi/``
as static files and a read-only ``/v2/`` registry (what is answered: :mod:`airlock.server.site`).

Why asyncio in ``--workers`` processes rather than threads: measured with benchmarks/serve_load.py
(figures in its docstring), a bounded thread pool stalls kept-alive clients beyond its size behind
idle connections (p99 about 2 s at 200 clients and 64 threads), and a thread per connection leaves
threads and descriptors unbounded; an event loop holds idle connections for a few KiB each and,
with one worker, had the best tail latency of the Python designs. Files above 64 KiB go out with
sendfile(2). Every resource is bounded: connections (``Limits.max_connections``; at the limit an
idle kept-alive connection is closed for the new one, else the new one gets 503), the time a
connection may sit idle, take to send a request head, or stall a response (:class:`Limits`), and
the size of a request head. Malformed requests get a 4xx and a closed connection. One access-log
line per request on stderr; SIGTERM/SIGINT shut down cleanly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import Any

from airlock.errors import AirlockError, BadRequest
from airlock.server.prefork import supervise
from airlock.server.protocol import Limits, Request, body_length, read_request
from airlock.server.site import Response, Site, error

BACKLOG = 4096       # the kernel caps it at net.core.somaxconn; 5 (the old default) dropped bursts
SEND_CHUNK = 8 << 20  # sendfile in chunks so a stalled client trips the send timeout
COPY_CHUNK = 1 << 20  # over TLS: read and encrypt this much at a time
ACCEPT_BATCH = 16
LINGER = 2.0          # seconds to read and drop input after a closing answer


class SiteServer:
    def __init__(self, site: Path, limits: Limits, log: Any = sys.stderr, tls: ssl.SSLContext | None = None):
        self.site = Site(site)
        self.tls = tls  # HTTPS: sendfile then copies through user space (asyncio's fallback)
        self.limits = limits
        self.log = log
        self.port = 0
        self._idle: dict[asyncio.StreamWriter, bool] = {}  # open connections -> waiting for a request?
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._date = (0, "")

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, sock: socket.socket, ready: Callable[[SiteServer], None] | None = None) -> None:
        """Accept on SOCK (listening already) until :meth:`stop`, SIGTERM or SIGINT."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        # start_server's backlog is both the listen() backlog and how many connections one wakeup
        # accepts: a small batch lets every worker on the shared socket take its part of a burst
        server = await asyncio.start_server(self._connection, sock=sock, limit=self.limits.max_line,
                                            backlog=ACCEPT_BATCH, ssl=self.tls,
                                            ssl_handshake_timeout=self.limits.header_timeout if self.tls else None)
        sock.listen(BACKLOG)  # start_server listened with ACCEPT_BATCH: the kernel queue stays long
        self.port = sock.getsockname()[1]
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._stopped.set)
        if ready:
            ready(self)
        async with server:
            await self._stopped.wait()
            server.close()
            for writer in list(self._idle):
                writer.transport.abort()

    def stop(self) -> None:
        """Stop from any thread."""
        if self._loop and self._stopped:
            self._loop.call_soon_threadsafe(self._stopped.set)

    # -- connections ----------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("-",))[0]
        if len(self._idle) >= self.limits.max_connections and not self._evict_idle():
            try:
                await self._finish(writer, peer, None,
                                   error(503, "UNAVAILABLE", "too many connections", plain=True), keep=False)
            except (ConnectionError, TimeoutError):
                writer.transport.abort()
            await self._close(reader, writer, linger=True)  # its request may sit unread
            return
        self._idle[writer] = True
        then = "gone"
        try:
            while (then := await self._one(reader, writer, peer)) == "keep":
                self._idle[writer] = True
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            writer.transport.abort()  # the client went away or stalled: nothing left to answer
        finally:
            self._idle[writer] = False  # still counted while it closes, never evicted
            await self._close(reader, writer, linger=then == "linger")
            self._idle.pop(writer, None)

    async def _close(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, linger: bool) -> None:
        """Close after what is buffered went out. With LINGER (an answer to a malformed request or one
        with an unread body), first half-close and read what the client still sends for a moment:
        closing a socket with unread input sends an RST, which can destroy the answer (a 400, say)
        before the client has read it. Not always: it costs a round trip per connection."""
        if writer.transport.is_closing():
            return
        try:
            if linger and writer.can_write_eof():
                writer.write_eof()
                async with asyncio.timeout(LINGER):
                    while await reader.read(1 << 16):
                        pass
            writer.close()
            async with asyncio.timeout(self.limits.send_timeout):
                await writer.wait_closed()
        except (ConnectionError, TimeoutError, OSError):
            pass
        finally:
            writer.transport.abort()

    def _evict_idle(self) -> bool:
        victim = next((w for w, idle in self._idle.items() if idle), None)
        if victim is None:
            return False
        self._idle.pop(victim)
        victim.transport.abort()  # its read fails at once and its handler ends
        return True

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> str:
        """Read and answer one request. What then: "keep" the connection for the next request, "close"
        it, "linger" before closing (input may be left unread), or it is "gone" (the client closed or
        stayed idle too long, nothing was answered)."""
        try:
            req = await read_request(reader, self.limits)
            if req is None:
                return "gone"
            self._idle[writer] = False
            to_drop = body_length(req, self.limits)
        except BadRequest as bad:
            await self._finish(writer, peer, None, error(bad.code, "BAD_REQUEST", bad.reason, plain=True),
                               keep=False, note=bad.reason)
            return "linger"
        if to_drop:
            async with asyncio.timeout(self.limits.header_timeout):
                await reader.readexactly(to_drop)
        try:
            resp = self.site.handle(req)
        except Exception as exc:  # noqa: BLE001 (one broken request must not stop the server)
            await self._finish(writer, peer, req, error(500, "INTERNAL", "internal error", plain=True), keep=False,
                               note=f"{type(exc).__name__}: {exc}")
            return "close" if to_drop is not None else "linger"
        keep = req.keep_alive and to_drop is not None
        await self._finish(writer, peer, req, resp, keep)
        return "keep" if keep else "close" if to_drop is not None else "linger"

    # -- responses ------------------------------------------------------------------------

    def _http_date(self) -> str:
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        return self._date[1]

    async def _finish(self, writer: asyncio.StreamWriter, peer: str, req: Request | None, resp: Response,
                      keep: bool, note: str = "") -> None:
        """Send RESP (closing its file in any case) and write the access-log line."""
        try:
            head = [f"HTTP/1.1 {resp.code} {HTTPStatus(resp.code).phrase}", "Server: airlock",
                    f"Date: {self._http_date()}", f"Content-Length: {resp.size}",
                    "Docker-Distribution-API-Version: registry/2.0"]
            head += [f"{k}: {v}" for k, v in resp.headers]
            if not keep:
                head.append("Connection: close")
            elif req is not None and req.version == (1, 0):
                head.append("Connection: keep-alive")
            data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            with_body = req is None or req.method != "HEAD"
            if with_body and resp.fd is None:
                data += resp.body
            writer.write(data)
            if writer.transport.get_write_buffer_size():  # most answers went out whole: no timer needed
                async with asyncio.timeout(self.limits.send_timeout):
                    await writer.drain()
            if with_body and resp.fd is not None:
                await self._sendfile(writer, resp)
        finally:
            if resp.fd is not None:
                os.close(resp.fd)
            line = f'{peer} "{req.method} {req.target}" ' if req else f'{peer} "-" '
            print(line + f"{resp.code} {resp.size}" + (f" ({note})" if note else ""), file=self.log, flush=True)

    async def _sendfile(self, writer: asyncio.StreamWriter, resp: Response) -> None:
        assert self._loop is not None and resp.fd is not None
        if self.tls is not None:
            await self._copy(writer, resp)
            return
        f = _unbuffered(resp.fd)
        offset, left = resp.offset, resp.length
        while left > 0:
            async with asyncio.timeout(self.limits.send_timeout):
                sent = await self._loop.sendfile(writer.transport, f, offset, min(left, SEND_CHUNK))
            if sent == 0:
                raise ConnectionError("file shrank while being sent")  # the length we promised is a lie now
            offset, left = offset + sent, left - sent


    async def _copy(self, writer: asyncio.StreamWriter, resp: Response) -> None:
        """Over TLS the kernel cannot send the file for us: read big chunks in a thread (a cold disk must
        not stall the loop) and let the SSL transport encrypt them. asyncio's own sendfile fallback
        does the same with 256 KiB reads; measured slower with benchmarks/serve_tls.py."""
        assert self._loop is not None and resp.fd is not None
        offset, left = resp.offset, resp.length
        while left > 0:
            data = await self._loop.run_in_executor(None, os.pread, resp.fd, min(left, COPY_CHUNK), offset)
            if not data:
                raise ConnectionError("file shrank while being sent")
            writer.write(data)
            async with asyncio.timeout(self.limits.send_timeout):
                await writer.drain()
            offset, left = offset + len(data), left - len(data)


def _unbuffered(fd: int) -> Any:
    return open(fd, "rb", buffering=0, closefd=False)  # the response owns and closes the fd


def fd_budget(wanted: int) -> int:
    """Connections the process can hold open: each may hold a socket and a file. Raises the soft
    RLIMIT_NOFILE up to the hard one when needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * wanted + 64
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, (soft - 64) // 2))


def listen(host: str, port: int) -> socket.socket:
    """The listening socket all workers share: a busy worker is not woken, so an idle one takes the
    next connections (one SO_REUSEPORT socket per worker measured no better: the kernel deals new
    connections to a worker by address hash, busy or not)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def serve(site: Path, host: str, port: int, log: Any = sys.stderr,
          ready: Callable[[SiteServer], None] | None = None, limits: Limits | None = None, workers: int = 1,
          tls: ssl.SSLContext | None = None) -> None:
    """Serve SITE on HOST:PORT until SIGTERM/SIGINT (or ``stop()`` of the server READY is given;
    READY is only called with one worker, in this process); HTTPS with the TLS context."""
    limits = limits or Limits()
    allowed = fd_budget(limits.max_connections)
    if allowed < limits.max_connections:
        print(f"airlock serve: {allowed} connections at most (file descriptor limit); raise `ulimit -n` for more",
              file=log, flush=True)
        limits = dataclasses.replace(limits, max_connections=allowed)
    with listen(host, port) as sock:
        where = f"{'https' if tls else 'http'}://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
        print(f"airlock serve: {Path(os.path.realpath(site))} on {where} (files at /files/, registry at /v2/)"
              + (f", {workers} worker processes" if workers > 1 else ""), file=log, flush=True)
        if workers <= 1:
            asyncio.run(SiteServer(site, limits, log, tls).run(sock, ready))
        else:  # the connection limit is shared out; each worker has its own loop
            share = dataclasses.replace(limits, max_connections=max(1, limits.max_connections // workers))
            if not supervise(workers, lambda _: asyncio.run(SiteServer(site, share, log, tls).run(sock)), log):
                raise AirlockError("the worker processes of airlock serve keep failing at start",
                                   hint="see the errors above; --workers 1 runs the server in one process")
    print("airlock serve: stopped", file=log, flush=True)
