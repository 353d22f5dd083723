"""A read-only client for Python package indexes: PEP 691 JSON, falling back to PEP 503 HTML;
core metadata from PEP 658 ``.metadata`` files, else from the wheel itself."""

from __future__ import annotations

import html.parser
import io
import tarfile
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import Any
from urllib.parse import urldefrag, urljoin

from airlock.bounded import load_json
from airlock.errors import NetworkError
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url
from airlock.pep691 import PYPI_JSON


@dataclass(frozen=True)
class Dist:
    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    yanked: bool
    has_metadata: bool
    size: int | None = None


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


class Index:
    def __init__(self, net: Net, url: str, mirrors: Mapping[str, str]):
        self.net, self.url, self.mirrors = net, url.rstrip("/") + "/", mirrors
        self._pages: dict[str, list[Dist]] = {}
        self._meta: dict[str, str] = {}
        self._lock = threading.Lock()

    def files(self, name: str) -> list[Dist]:
        with self._lock:
            if name in self._pages:
                return self._pages[name]
        page = self.url + name + "/"
        resp = self.net.request("GET", rewrite_url(page, self.mirrors), what=f"python package {name}",
                                headers={"Accept": f"{PYPI_JSON}, text/html;q=0.1"})
        if resp.status_code == 404:
            dists: list[Dist] = []
        elif resp.status_code != 200:
            raise NetworkError(f"python package {name}: {page} answered HTTP {resp.status_code}")
        elif resp.headers.get("Content-Type", "").startswith(PYPI_JSON):
            doc = load_json(resp.content, NetworkError, f"python package {name}: {page}")
            files = doc.get("files", []) if isinstance(doc, dict) else []
            dists = [self._from_json(page, f) for f in files if isinstance(f, dict)]
        else:
            dists = self._from_html(page, resp.text)
        with self._lock:
            self._pages[name] = dists
        return dists

    def _from_json(self, page: str, f: dict[str, Any]) -> Dist:
        meta = f.get("core-metadata", f.get("dist-info-metadata", False))
        return Dist(filename=f["filename"], url=urljoin(page, f["url"]), sha256=(f.get("hashes") or {}).get("sha256"),
                    requires_python=f.get("requires-python") or None, yanked=bool(f.get("yanked")),
                    has_metadata=bool(meta), size=f.get("size"))

    def _from_html(self, page: str, text: str) -> list[Dist]:
        parser = _Links()
        parser.feed(text)
        out = []
        for a in parser.links:
            href = a.get("href")
            if not href:
                continue
            url, frag = urldefrag(urljoin(page, href))
            sha = frag.split("=", 1)[1] if frag.startswith("sha256=") else None
            filename = url.rsplit("/", 1)[-1]
            meta = a.get("data-core-metadata", a.get("data-dist-info-metadata"))
            out.append(Dist(filename=filename, url=url, sha256=sha, requires_python=a.get("data-requires-python"),
                            yanked="data-yanked" in a, has_metadata=meta is not None and meta != "false"))
        return out

    def metadata(self, dist: Dist, what: str) -> str:
        """The core metadata (METADATA / PKG-INFO) of a distribution."""
        with self._lock:
            if dist.url in self._meta:
                return self._meta[dist.url]
        text = None
        if dist.has_metadata:
            resp = self.net.request("GET", rewrite_url(dist.url + ".metadata", self.mirrors), what=what)
            if resp.status_code == 200:
                text = resp.text
        if text is None:
            resp = self.net.request("GET", rewrite_url(dist.url, self.mirrors), what=what)
            if resp.status_code != 200:
                raise NetworkError(f"{what}: {dist.url} answered HTTP {resp.status_code}")
            text = _metadata_from_archive(dist.filename, resp.content, what)
        with self._lock:
            self._meta[dist.url] = text
        return text


def _metadata_from_archive(filename: str, data: bytes, what: str) -> str:
    if filename.endswith(".whl"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            name = next((n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1), None)
            if name:
                return z.read(name).decode("utf-8", "replace")
    else:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            member = next((m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")), None)
            if member:
                f = t.extractfile(member)
                if f:
                    return f.read().decode("utf-8", "replace")
    raise NetworkError(f"{what}: {filename} has no readable metadata")


def requires_dist(metadata: str) -> list[str]:
    return HeaderParser().parsestr(metadata).get_all("Requires-Dist") or []
