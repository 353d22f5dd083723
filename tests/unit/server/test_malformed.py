"""Malformed requests over raw sockets: each gets a 4xx and a closed connection, never a silent drop."""

from __future__ import annotations

import pytest

from tests.unit.server.conftest import raw, status

OK = b"GET /files/dl.example/small.txt HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(("request_bytes", "code"), [
    (b"garbage\r\n\r\n", 400),                                        # not a request line
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),    # a TLS hello
    (b"GET /files/a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),             # a space in the target
    (b"GET  /files/x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /files/x\r\n\r\n", 400),                                    # HTTP/0.9
    (b"GET /files/x HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    (b"G(T /files/x HTTP/1.1\r\nHost: x\r\n\r\n", 400),               # not a token
    (b"GET /files/x HTTQ/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /files/x HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET files/x HTTP/1.1\r\nHost: x\r\n\r\n", 400),                # not origin-form
    (b"GET /files/dl.example/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # %00
    (b"GET /files/dl.example/%0a HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # a control character
    (b"GET /files/dl.example/a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # invalid percent-encoding
    (b"GET /files/dl.example/a%4 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /files/dl.example/a% HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /files/dl.example/%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # not UTF-8
    (b"GET /files/\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400),        # raw non-ASCII in the target
    (b"GET /files/x HTTP/1.1\r\n\r\n", 400),                           # HTTP/1.1 without Host
    (b"GET /files/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (OK + b"no colon here\r\n\r\n", 400),
    (OK + b"X-A : b\r\n\r\n", 400),                                    # whitespace before the colon
    (OK + b"X-A: b\r\n folded\r\n\r\n", 400),                          # obs-fold
    (OK + b"X-A: b\x00c\r\n\r\n", 400),
    (OK + b"X-A: b\rc\r\n\r\n", 400),                                  # a bare CR
    (OK + b"Content-Length: abc\r\n\r\n", 400),
    (OK + b"Content-Length: 1, 2\r\n\r\n", 400),
    (b"GET /files/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # an over-long request line
    (OK + b"X-Long: " + b"a" * 9000 + b"\r\n\r\n", 431),               # an over-long header line
    (OK + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n", 431),  # too many fields
    (OK + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 4000) for i in range(20)) + b"\r\n", 431),  # head too large
])
def test_malformed_request_gets_4xx_and_close(port: int, request_bytes: bytes, code: int) -> None:
    out = raw(port, request_bytes)  # returns only once the server closed the connection
    assert status(out) == code, out[:200]
    assert b"Connection: close" in out.split(b"\r\n\r\n")[0]


def test_server_still_serves_after_garbage(port: int) -> None:
    for junk in (b"\x00" * 100, b"\r\n" * 50, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5):
        assert status(raw(port, junk + b"\r\n\r\n")) == 400
    assert status(raw(port, OK + b"Connection: close\r\n\r\n")) == 200


def test_request_with_body(port: int) -> None:
    # A small body on GET is read and dropped, the connection stays usable.
    out = raw(port, OK + b"Content-Length: 5\r\n\r\nhello" + OK + b"Connection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200 OK") == 2
    # A chunked or large body is not read: answered, then the connection is closed.
    out = raw(port, OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert status(out) == 200 and b"Connection: close" in out
    out = raw(port, b"POST /v2/x/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    assert status(out) == 405 and b"Allow: GET, HEAD" in out


def test_leading_empty_lines_and_bare_lf(port: int) -> None:
    assert status(raw(port, b"\r\n" + OK + b"Connection: close\r\n\r\n")) == 200
    assert status(raw(port, b"GET /files/dl.example/small.txt HTTP/1.0\n\n")) == 200
