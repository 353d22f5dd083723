"""``airlock serve``: one threaded HTTP server for a site: ``/files/``, ``/rpms/``, ``/debs/``, ``/pypi/``,
``/node/`` and ``/inventory/`` as static files and a read-only ``/v2/`` registry.

Static files and blobs support HEAD and single Range requests and are sent with sendfile(2).
Nothing outside DIR is ever served: paths are resolved and must stay under those directories; links
are refused. One access-log line per request on stderr; SIGTERM/SIGINT shut down cleanly.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from airlock.server.registry import Catalog

_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
STATIC_ROOTS = ("files", "rpms", "debs", "pypi", "node", "inventory")  # site directories served as plain files
PYPI_JSON = "application/vnd.pypi.simple.v1+json"


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: Path, log: Any = sys.stderr):
        self.site = site.resolve()
        self.catalog = Catalog(self.site / "oci")
        self.log = log
        self.log_lock = threading.Lock()
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"
    server_version = "airlock"
    sys_version = ""

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        with self.server.log_lock:
            print(f'{self.client_address[0]} "{self.command} {self.path}" {code} {size}', file=self.server.log,
                  flush=True)

    # -- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def _unsupported(self) -> None:
        self._error(405, "UNSUPPORTED", "this registry is read-only")

    do_POST = do_PUT = do_PATCH = do_DELETE = _unsupported  # noqa: N815

    def _route(self, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        top, _, rest = path.lstrip("/").partition("/")
        if top in STATIC_ROOTS and rest:
            return self._file(top, rest, head)
        if path in ("/v2", "/v2/"):
            return self._json({}, head)
        if path == "/v2/_catalog":
            return self._json({"repositories": sorted(self.server.catalog.repos())}, head)
        for pattern, fn in ((_TAGS, self._tags), (_MANIFEST, self._manifest), (_BLOB, self._blob)):
            m = pattern.match(path)
            if m:
                return fn(head=head, **m.groupdict())
        self._error(404, "NOT_FOUND", "no such path", plain=not path.startswith("/v2/"))

    # -- files ----------------------------------------------------------------------------

    def _file(self, top: str, rel: str, head: bool) -> None:
        root = self.server.site / top
        target = (root / rel)
        try:
            resolved = target.resolve(strict=True)
        except (FileNotFoundError, RuntimeError, OSError):
            return self._error(404, "NOT_FOUND", "no such file", plain=True)
        if root not in resolved.parents and resolved != root or target.is_symlink():
            return self._error(404, "NOT_FOUND", "no such file", plain=True)
        if resolved.is_dir():  # a simple index page: PEP 691 JSON when asked for, else PEP 503 HTML
            wants_json = PYPI_JSON in self.headers.get("Accept", "")
            page = resolved / ("index.json" if wants_json else "index.html")
            if not page.is_file():
                return self._error(404, "NOT_FOUND", "no such file", plain=True)
            ctype = PYPI_JSON if wants_json else "text/html; charset=utf-8"
            return self._send_file(page, ctype, head, {"Vary": "Accept"}, ranges=False)
        if not resolved.is_file():
            return self._error(404, "NOT_FOUND", "no such file", plain=True)
        self._send_file(resolved, "application/octet-stream", head, {})

    # -- registry -------------------------------------------------------------------------

    def _repo(self, name: str) -> Any:
        repo = self.server.catalog.repos().get(name)
        if repo is None:
            self._error(404, "NAME_UNKNOWN", f"repository {name} is not known")
        return repo

    def _tags(self, name: str, head: bool) -> None:
        repo = self._repo(name)
        if repo is not None:
            self._json({"name": name, "tags": sorted(repo.tags)}, head)

    def _manifest(self, name: str, ref: str, head: bool) -> None:
        repo = self._repo(name)
        if repo is None:
            return
        digest = ref if ref.startswith("sha256:") else repo.tags.get(ref)
        if digest is None or digest not in repo.manifests:
            return self._error(404, "MANIFEST_UNKNOWN", f"manifest {ref} is not known in {name}")
        path = self.server.catalog.blob_path(digest)
        if path is None:
            return self._error(404, "MANIFEST_UNKNOWN", f"manifest {ref} is not known in {name}")
        self._send_file(path, repo.manifests[digest], head, {"Docker-Content-Digest": digest}, ranges=False)

    def _blob(self, name: str, digest: str, head: bool) -> None:
        repo = self._repo(name)
        if repo is None:
            return
        path = self.server.catalog.blob_path(digest)
        if path is None or (digest not in repo.blobs and digest not in repo.manifests):
            return self._error(404, "BLOB_UNKNOWN", f"blob {digest} is not known in {name}")
        self._send_file(path, "application/octet-stream", head, {"Docker-Content-Digest": digest})

    # -- responses ------------------------------------------------------------------------

    def _headers(self, code: int, ctype: str, length: int, extra: dict[str, str]) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()

    def _json(self, doc: Any, head: bool, code: int = 200) -> None:
        body = json.dumps(doc).encode()
        self._headers(code, "application/json", len(body), {})
        if not head:
            self.wfile.write(body)

    def _error(self, code: int, err: str, message: str, plain: bool = False) -> None:
        body = (message + "\n").encode() if plain else json.dumps(
            {"errors": [{"code": err, "message": message, "detail": {}}]}).encode()
        self._headers(code, "text/plain" if plain else "application/json", len(body), {})
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(self, path: Path, ctype: str, head: bool, extra: dict[str, str], ranges: bool = True) -> None:
        size = path.stat().st_size
        start, end, code = 0, size - 1, 200
        rng = self.headers.get("Range") if ranges else None
        if rng:
            m = _RANGE.match(rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                return self._range_error(size)
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                return self._range_error(size)
            code = 206
            extra = {**extra, "Content-Range": f"bytes {start}-{end}/{size}"}
        self._headers(code, ctype, end - start + 1, {**extra, "Accept-Ranges": "bytes"})
        if head:
            return
        self.wfile.flush()
        with path.open("rb") as f:
            offset, left = start, end - start + 1
            while left > 0:
                sent = os.sendfile(self.connection.fileno(), f.fileno(), offset, min(left, 1 << 30))
                if sent == 0:
                    break
                offset += sent
                left -= sent

    def _range_error(self, size: int) -> None:
        self._headers(416, "text/plain", 0, {"Content-Range": f"bytes */{size}"})


def serve(site: Path, host: str, port: int, log: Any = sys.stderr, ready: Any = None) -> None:
    server = SiteServer((host, port), site, log)
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, shutdown)
        signal.signal(signal.SIGINT, shutdown)
    print(f"airlock serve: {site} on http://{host}:{server.server_address[1]} (files at /files/, registry at /v2/)",
          file=log, flush=True)
    if ready:
        ready(server)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        print("airlock serve: stopped", file=log, flush=True)
