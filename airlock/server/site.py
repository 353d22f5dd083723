"""What ``airlock serve`` answers for a request: static trees and the read-only ``/v2/`` registry.

Files are opened one path component at a time below the site directory with ``O_NOFOLLOW``
(``openat``), so a symlink anywhere on the way (a linked directory, a linked file, a linked
``files/`` itself) is never followed, whether it points inside DIR or out of it; only regular files
and directories count, a FIFO or device is never opened for reading. The site directory itself is
resolved once at start (DIR may be given through a link).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from airlock.digest import parse_digest
from airlock.pep691 import PYPI_JSON
from airlock.server.protocol import Request
from airlock.server.registry import Catalog, open_under

_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_BYTES = re.compile(r"^(\d*)-(\d*)$")
STATIC_ROOTS = ("files", "rpms", "debs", "pypi", "node", "inventory")  # site directories served as plain files
INLINE = 65536  # bodies up to this size are read and sent with the head in one write


@dataclass
class Response:
    code: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    fd: int | None = None   # an open regular file: send ``length`` bytes from ``offset``
    offset: int = 0
    length: int = 0

    @property
    def size(self) -> int:
        return self.length if self.fd is not None else len(self.body)


def error(code: int, err: str, message: str, plain: bool = False) -> Response:
    if plain:
        return Response(code, [("Content-Type", "text/plain")], (message + "\n").encode())
    body = json.dumps({"errors": [{"code": err, "message": message, "detail": {}}]}).encode()
    return Response(code, [("Content-Type", "application/json")], body)


def _json(doc: object) -> Response:
    return Response(200, [("Content-Type", "application/json")], json.dumps(doc).encode())


class Site:
    def __init__(self, root: Path):
        self.root = Path(os.path.realpath(root))
        self.catalog = Catalog(self.root)

    def handle(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            resp = error(405, "UNSUPPORTED", "this registry is read-only")
            resp.headers.append(("Allow", "GET, HEAD"))
            return resp
        path = req.path
        top, _, rest = path.lstrip("/").partition("/")
        if top in STATIC_ROOTS and rest:
            return self._file(req, top, rest)
        if path in ("/v2", "/v2/"):
            return _json({})
        if path == "/v2/_catalog":
            return _json({"repositories": sorted(self.catalog.repos())})
        if m := _TAGS.match(path):
            return self._tags(m["name"])
        if m := _MANIFEST.match(path):
            return self._manifest(m["name"], m["ref"])
        if m := _BLOB.match(path):
            return self._blob(req, m["name"], m["digest"])
        return error(404, "NOT_FOUND", "no such path", plain=not path.startswith("/v2/"))

    # -- files ----------------------------------------------------------------------------

    def _file(self, req: Request, top: str, rel: str) -> Response:
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        fd = open_under(self.root, [top, *parts]) if ".." not in parts else None
        if fd is None:
            return error(404, "NOT_FOUND", "no such file", plain=True)
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):  # a simple index page: PEP 691 JSON when asked for, else PEP 503 HTML
            wants_json = PYPI_JSON in (req.header("accept") or "")
            page = open_under(self.root, [top, *parts, "index.json" if wants_json else "index.html"])
            os.close(fd)
            if page is None:
                return error(404, "NOT_FOUND", "no such file", plain=True)
            ctype = PYPI_JSON if wants_json else "text/html; charset=utf-8"
            return self._body(req, page, ctype, [("Vary", "Accept")], ranges=False)
        return self._body(req, fd, "application/octet-stream", [])

    # -- registry -------------------------------------------------------------------------

    def _tags(self, name: str) -> Response:
        repo = self.catalog.repos().get(name)
        if repo is None:
            return error(404, "NAME_UNKNOWN", f"repository {name} is not known")
        return _json({"name": name, "tags": sorted(repo.tags)})

    def _manifest(self, name: str, ref: str) -> Response:
        repo = self.catalog.repos().get(name)
        if repo is None:
            return error(404, "NAME_UNKNOWN", f"repository {name} is not known")
        digest = parse_digest(ref) or repo.tags.get(ref)
        fd = self.catalog.open_blob(digest) if digest in repo.manifests else None
        if fd is None or digest is None:
            return error(404, "MANIFEST_UNKNOWN", f"manifest {ref} is not known in {name}")
        return self._body(None, fd, repo.manifests[digest], [("Docker-Content-Digest", digest)], ranges=False)

    def _blob(self, req: Request, name: str, digest: str) -> Response:
        repo = self.catalog.repos().get(name)
        if repo is None:
            return error(404, "NAME_UNKNOWN", f"repository {name} is not known")
        fd = self.catalog.open_blob(digest) if digest in repo.blobs or digest in repo.manifests else None
        if fd is None:
            return error(404, "BLOB_UNKNOWN", f"blob {digest} is not known in {name}")
        return self._body(req, fd, "application/octet-stream", [("Docker-Content-Digest", digest)])

    # -- bodies ---------------------------------------------------------------------------

    def _body(self, req: Request | None, fd: int, ctype: str, extra: list[tuple[str, str]],
              ranges: bool = True) -> Response:
        """A regular file's response (the fd is owned by the response, or closed here)."""
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return error(404, "NOT_FOUND", "no such file", plain=True)
        size = st.st_size
        headers = [("Content-Type", ctype), *extra]
        code, start, length = 200, 0, size
        if ranges:
            headers.append(("Accept-Ranges", "bytes"))
            picked = _range(req, size) if req is not None else None
            if picked == "unsatisfiable":
                os.close(fd)
                return Response(416, [("Content-Type", "text/plain"), ("Content-Range", f"bytes */{size}")])
            if isinstance(picked, tuple):
                code, (start, length) = 206, picked
                headers.append(("Content-Range", f"bytes {start}-{start + length - 1}/{size}"))
        if length <= INLINE:
            try:
                body = os.pread(fd, length, start)
            finally:
                os.close(fd)
            return Response(code, headers, body)
        return Response(code, headers, fd=fd, offset=start, length=length)


def _range(req: Request, size: int) -> tuple[int, int] | str | None:
    """(start, length) of a single satisfiable byte range; None to send the whole file (no Range, an
    unknown unit, several ranges, a syntax we do not parse, or an If-Range we cannot validate: RFC 9110
    14.2 lets a server ignore those); "unsatisfiable" for a well-formed range outside the file."""
    value = req.header("range")
    if req.method != "GET" or not value or "if-range" in req.headers:
        return None
    unit, eq, spec = value.partition("=")
    if not eq or unit.strip().lower() != "bytes":  # range units are case-insensitive
        return None
    m = _BYTES.match(spec.strip())
    if not m or (not m[1] and not m[2]):
        return None
    if m[1]:
        start = int(m[1])
        if m[2] and int(m[2]) < start:
            return None  # invalid, not unsatisfiable
        if start >= size:
            return "unsatisfiable"
        end = min(int(m[2]), size - 1) if m[2] else size - 1
        return start, end - start + 1
    suffix = int(m[2])
    if suffix == 0 or size == 0:
        return "unsatisfiable"
    return max(0, size - suffix), min(suffix, size)
