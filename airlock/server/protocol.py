"""HTTP/1.1 request heads for ``airlock serve``, read strictly and within bounds (RFC 9110/9112).

Anything a well-behaved client would not send is refused with a status code, never by dropping
the connection: a malformed request line, header or percent-encoding, NUL or control characters
in the path get 400, an over-long request target 414, over-long or too many header fields 431,
an HTTP version other than 1.x 505. Every wait is bounded: the next request on a kept-alive
connection by the idle timeout, the whole head, once its first byte came, by the header timeout
(so a client trickling one byte at a time cannot hold a connection: slowloris).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urlsplit

from airlock.errors import BadRequest

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")
_TARGET = re.compile(rb"^[\x21-\x7e]+$")  # visible ASCII only; spaces already split the line
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # controls except HTAB


@dataclass(frozen=True)
class Limits:
    """Bounds of one server; every number is a flag of ``airlock serve`` or a fixed safe default."""

    idle_timeout: float = 30.0     # seconds a kept-alive connection may wait for its next request
    header_timeout: float = 10.0   # seconds for a whole request head once its first byte arrived
    send_timeout: float = 60.0     # seconds a response may make no progress (a client that stops reading)
    max_connections: int = 1024    # open client connections; beyond it idle ones are closed, else 503
    max_line: int = 8192           # bytes of the request line and of each header line
    max_head: int = 32768          # bytes of the whole request head
    max_headers: int = 100
    max_discard: int = 65536       # a GET/HEAD body up to this size is read and dropped; larger closes


@dataclass
class Request:
    method: str
    target: str           # as sent (validated visible ASCII), for the access log
    path: str             # percent-decoded, UTF-8, no NUL or control characters
    version: tuple[int, int]
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-case names

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return ", ".join(values) if values else None

    def tokens(self, name: str) -> set[str]:
        return {t.strip().lower() for v in self.headers.get(name, []) for t in v.split(",") if t.strip()}

    @property
    def keep_alive(self) -> bool:
        conn = self.tokens("connection")
        return "close" not in conn and (self.version >= (1, 1) or "keep-alive" in conn)


async def _line(reader: asyncio.StreamReader, code: int, what: str, first: bytes = b"") -> bytes:
    try:
        line = first if first == b"\n" else first + await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise BadRequest(code, f"{what} too long") from None
    line = line[:-2] if line.endswith(b"\r\n") else line[:-1]  # a bare LF ends a line too (RFC 9112 2.2)
    if b"\r" in line or b"\0" in line:
        raise BadRequest(400, f"stray CR or NUL in the {what}")
    return line


async def read_request(reader: asyncio.StreamReader, limits: Limits) -> Request | None:
    """The next request head, or None when the client closed or stayed idle too long."""
    try:
        async with asyncio.timeout(limits.idle_timeout):
            first = await reader.readexactly(1)  # the idle wait ends with the first byte of a request
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        return None
    try:
        async with asyncio.timeout(limits.header_timeout):
            return await _read_head(reader, limits, first)
    except TimeoutError:
        raise BadRequest(408, "request head not complete within the header timeout") from None
    except asyncio.IncompleteReadError:
        raise BadRequest(400, "connection closed inside the request head") from None


async def _read_head(reader: asyncio.StreamReader, limits: Limits, first: bytes) -> Request:
    line = await _line(reader, 414, "request line", first)
    for _ in range(4):  # RFC 9112 2.2: ignore a few empty lines before the request line
        if line:
            break
        line = await _line(reader, 414, "request line")
    parts = line.split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]):
        raise BadRequest(400, "malformed request line")
    method, raw_target, raw_version = parts
    version = _VERSION.match(raw_version)
    if not version:
        raise BadRequest(400, "malformed HTTP version")
    if version.group(1) != b"1":
        raise BadRequest(505, "only HTTP/1.0 and HTTP/1.1 are served")
    if not _TARGET.match(raw_target):
        raise BadRequest(400, "malformed request target")
    headers: dict[str, list[str]] = {}
    size, count = len(line), 0
    while True:
        hline = await _line(reader, 431, "header field")
        if not hline:
            break
        size, count = size + len(hline) + 2, count + 1
        if size > limits.max_head or count > limits.max_headers:
            raise BadRequest(431, "request header fields too large")
        name, colon, value = hline.partition(b":")
        if not colon or not _TOKEN.match(name):  # also refuses obs-fold and space before the colon
            raise BadRequest(400, "malformed header field")
        value = value.strip(b" \t")
        if _FIELD_VALUE_BAD.search(value):
            raise BadRequest(400, "control character in a header field")
        headers.setdefault(name.decode("ascii").lower(), []).append(value.decode("latin-1"))
    req = Request(method.decode("ascii"), raw_target.decode("ascii"), decode_path(raw_target.decode("ascii")),
                  (1, int(version.group(2))), headers)
    if req.version == (1, 1) and len(headers.get("host", [])) != 1:
        raise BadRequest(400, "HTTP/1.1 needs exactly one Host header")  # RFC 9112 3.2
    return req


def decode_path(target: str) -> str:
    """The percent-decoded path of an origin-form or absolute-form target; BadRequest if invalid."""
    if target.startswith("/"):
        raw = target.split("?", 1)[0].split("#", 1)[0]
    elif target.lower().startswith(("http://", "https://")):
        raw = urlsplit(target).path or "/"
    else:
        raise BadRequest(400, "request target must be a path")
    if _BAD_PERCENT.search(raw):
        raise BadRequest(400, "invalid percent-encoding in the path")
    data = unquote_to_bytes(raw)
    if any(b < 0x20 or b == 0x7F for b in data):
        raise BadRequest(400, "NUL or control character in the path")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "path is not UTF-8") from None


def body_length(req: Request, limits: Limits) -> int | None:
    """Bytes of request body to read and drop, or None when the connection must close after answering."""
    if "transfer-encoding" in req.headers:
        if req.version < (1, 1):
            raise BadRequest(400, "Transfer-Encoding in an HTTP/1.0 request")
        return None
    values = {v.strip() for raw in req.headers.get("content-length", []) for v in raw.split(",")}
    if not values:
        return 0
    if len(values) != 1 or not next(iter(values)).isdigit() or len(next(iter(values))) > 18:
        raise BadRequest(400, "invalid Content-Length")
    length = int(values.pop())
    return length if length <= limits.max_discard and req.method in ("GET", "HEAD") else None
