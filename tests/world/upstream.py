"""A simulated public upstream that behaves like Docker Hub: registry, token service and blob CDN.

Three HTTPS servers on 127.0.0.1, all with certificates of a private CA (:mod:`tests.world.pki`):

- the registry front answers ``/v2/`` requests only with a valid bearer token for the repository
  (else 401 with a ``Bearer realm=...,service=...,scope=...`` challenge), proxies manifests from a
  backing docker-registry and redirects blob GETs to the CDN with a signed URL;
- the token service (:class:`tests.world.servers.TokenService`) runs on its own port with short
  lifetimes; the front checks tokens against a clock it controls (``advance_per_blob`` seconds pass
  with every blob GET, so a long fetch outlives its tokens without any sleeping);
- the CDN refuses any request carrying ``Authorization`` (as S3 does with a signed URL), serves
  blobs with Range support, and under ``/files/`` serves files without Content-Length, dropping the
  connection mid-body as often as scripted.

``rate_limit_anonymous`` makes the front answer 429 to anonymous tokens, as Docker Hub does past
its anonymous pull limit. Every request is logged in :attr:`log` as (server, method, path, auth).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
import struct
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

from tests.world.pki import PrivateCA, make_private_ca
from tests.world.servers import HOST, BackgroundHTTP, TokenService, free_port

SERVICE = "upstream.test"
_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")


class Upstream:
    def __init__(self, workdir: Path, backend: str, *, ttl: int = 60, advance_per_blob: float = 0.0,
                 users: dict[str, str] | None = None, rate_limit_anonymous: bool = False):
        self.workdir, self.backend = workdir, backend.rstrip("/")
        self.ca: PrivateCA = make_private_ca(workdir / "pki")
        self.tokens = TokenService(workdir / "tokens", users, ttl=ttl, tls=self.ca.server_context(),
                                   anonymous=True)
        self.now = 0.0
        self.tokens.clock = lambda: self.now
        self.advance_per_blob = advance_per_blob
        self.rate_limit_anonymous = rate_limit_anonymous
        self.files: dict[str, bytes] = {}          # name -> bytes served at CDN /files/<name>
        self.drops: dict[str, int] = {}            # name -> how many more GETs to cut off mid-body
        self.port, self.cdn_port = free_port(), free_port()
        self.log: list[tuple[str, str, str, bool]] = []
        self._lock = threading.Lock()
        self._secret = b"cdn-signing-key"
        self._servers: list[BackgroundHTTP] = []

    @property
    def host(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def cdn_url(self) -> str:
        return f"https://{HOST}:{self.cdn_port}"

    def count(self, server: str, method: str | None = None, path_part: str = "") -> int:
        with self._lock:
            return sum(1 for s, m, p, _ in self.log if s == server and (method is None or m == method)
                       and path_part in p)

    def _record(self, server: str, method: str, path: str, auth: bool) -> None:
        with self._lock:
            self.log.append((server, method, path, auth))

    def _sign(self, path: str) -> str:
        return hmac.new(self._secret, path.encode(), hashlib.sha256).hexdigest()

    # -- servers --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.tokens.__enter__()
        self._servers = [BackgroundHTTP(self.port, self._front(), self.ca.server_context()),
                         BackgroundHTTP(self.cdn_port, self._cdn(), self.ca.server_context())]
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.stop()
        self.tokens.__exit__(None, None, None)

    def _front(self) -> type[BaseHTTPRequestHandler]:
        up = self

        class Front(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _challenge(self, name: str | None, error: str | None) -> None:
                value = f'Bearer realm="{up.tokens.realm}",service="{SERVICE}"'
                if name:
                    value += f',scope="repository:{name}:pull"'
                if error:
                    value += f',error="{error}"'
                self._reply(401, {"WWW-Authenticate": value, "Content-Type": "application/json"},
                            b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')

            def _handle(self) -> None:
                path = urlsplit(self.path).path
                auth = self.headers.get("Authorization", "")
                up._record("registry", self.command, path, bool(auth))
                token = auth[7:] if auth.startswith("Bearer ") else ""
                if path == "/v2/":
                    return self._challenge(None, None) if not token else self._reply(200, {}, b"{}")
                m = _PATH.match(path)
                if not m:
                    return self._reply(404, {}, b"")
                name, kind, ref = m["name"], m["kind"], m["ref"]
                state = up.tokens.allows(token, name, "pull") if token else "missing"
                if state != "ok":
                    return self._challenge(name, {"expired": "invalid_token", "denied": "insufficient_scope"}
                                           .get(state))
                if up.rate_limit_anonymous and up.tokens.issued[token]["sub"] == "anonymous":
                    return self._reply(429, {"Retry-After": "0"},
                                       b'{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}')
                if kind == "blobs" and self.command == "GET":
                    with up._lock:
                        up.now += up.advance_per_blob  # time passes while blobs download
                    location = f"/blobs/{name}/{ref}"
                    return self._reply(307, {"Location": f"{up.cdn_url}{location}?sig={up._sign(location)}"})
                req = urllib.request.Request(f"{up.backend}{path}", method=self.command,
                                             headers={"Accept": self.headers.get("Accept", "*/*")})
                try:
                    resp = urllib.request.urlopen(req)
                except urllib.error.HTTPError as err:
                    resp = err
                body = resp.read()
                keep = {k: v for k, v in resp.headers.items()
                        if k.lower() in ("content-type", "docker-content-digest", "content-length")}
                self._reply(resp.status, keep, body)

            do_GET = do_HEAD = _handle

        return Front

    def _cdn(self) -> type[BaseHTTPRequestHandler]:
        up = self

        class Cdn(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                up._record("cdn", self.command, parts.path, "Authorization" in self.headers)
                if "Authorization" in self.headers:  # S3: "Only one auth mechanism allowed"
                    return self._reply(400, b"<Error><Code>InvalidArgument</Code>"
                                            b"<Message>Only one auth mechanism allowed</Message></Error>")
                if parts.path.startswith("/files/"):
                    return self._file(parts.path.removeprefix("/files/"))
                if parse_qs(parts.query).get("sig", [""])[0] != up._sign(parts.path):
                    return self._reply(403, b"<Error><Code>AccessDenied</Code></Error>")
                name, _, digest = parts.path.removeprefix("/blobs/").rpartition("/")
                with urllib.request.urlopen(f"{up.backend}/v2/{name}/blobs/{digest}") as resp:
                    data = resp.read()
                start = self._range_start()
                if start:
                    return self._reply(206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
                self._reply(200, data)

            def _range_start(self) -> int:
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                return int(m.group(1)) if m else 0

            def _file(self, name: str) -> None:
                data = up.files.get(name)
                if data is None:
                    return self._reply(404, b"")
                start = self._range_start()
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/*")
                self.send_header("Transfer-Encoding", "chunked")  # no Content-Length, as some servers do
                self.end_headers()
                if self.command == "HEAD":
                    self.wfile.write(b"0\r\n\r\n")
                    return
                body = data[start:]
                with up._lock:
                    drop = up.drops.get(name, 0) > 0
                    if drop:
                        up.drops[name] -= 1
                for i in range(0, len(body), 4096):
                    chunk = body[i:i + 4096]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    if drop and i >= len(body) // 2:  # half the body, then the connection breaks
                        self.wfile.flush()
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.close_connection = True
                        self.connection.close()
                        return
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_HEAD = _handle

        return Cdn
