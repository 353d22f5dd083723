"""The read-only OCI distribution API over a site's OCI layout (``DIR/oci``).

Repositories and tags come from ``index.json``'s ``org.opencontainers.image.ref.name`` annotations,
canonical image references parsed by :func:`airlock.reference.parse_ref`
(``registry.k8s.io/kube-apiserver:v1.34.3`` is repository ``registry.k8s.io/kube-apiserver``, tag
``v1.34.3``; ``registry.k8s.io/pause@sha256:...`` is repository ``registry.k8s.io/pause`` with no tag,
served by that digest). A repository serves the manifests reachable from its entries and the blobs
they name.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.digest import Digest, parse_digest
from airlock.errors import ReferenceError
from airlock.oci import config_and_layers
from airlock.reference import parse_ref

_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
MAX_DOC = 16 << 20  # index.json and manifests are read whole: bound them


def open_under(root: Path, parts: list[str]) -> int | None:
    """An fd of ROOT/parts[0]/..., opened one component at a time without following any symlink
    (ELOOP) and without opening anything but directories on the way; None if that fails."""
    try:
        fd = os.open(root, _NOFOLLOW | os.O_DIRECTORY)
    except OSError:
        return None
    for i, part in enumerate(parts):
        if not part or part in (".", "..") or "/" in part or "\0" in part:
            os.close(fd)
            return None
        try:
            nfd = os.open(part, _NOFOLLOW | (os.O_DIRECTORY if i < len(parts) - 1 else 0), dir_fd=fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        fd = nfd
    return fd


def read_under(root: Path, parts: list[str]) -> bytes | None:
    """A regular file below ROOT (as open_under), up to MAX_DOC bytes; None if absent or too large."""
    fd = open_under(root, parts)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_DOC:
            return None
        return f.read(MAX_DOC + 1)[:MAX_DOC]


@dataclass
class Repo:
    tags: dict[str, Digest] = field(default_factory=dict)        # tag -> manifest digest
    manifests: dict[Digest, str] = field(default_factory=dict)   # digest -> media type
    blobs: set[Digest] = field(default_factory=set)


class Catalog:
    """``SITE/oci/index.json``, parsed; reloaded when it changes (an apply while serving). Everything is
    read through :func:`open_under`: a linked ``oci/``, index or blob is as absent as a missing one."""

    def __init__(self, site: Path):
        self.site = site
        self._stamp: tuple[int, int, int] | None = None
        self._repos: dict[str, Repo] = {}
        self._lock = threading.Lock()

    def open_blob(self, digest: str | None) -> int | None:
        d = parse_digest(digest)
        return None if d is None else open_under(self.site, ["oci", "blobs", "sha256", d.hex])

    def _doc(self, parts: list[str]) -> Any:
        data = read_under(self.site, parts)
        try:
            return json.loads(data) if data is not None else None
        except ValueError:
            return None  # a damaged document serves nothing, like a missing one

    def repos(self) -> dict[str, Repo]:
        fd = open_under(self.site, ["oci", "index.json"])
        if fd is None:
            return {}
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                index = self._doc(["oci", "index.json"])
                try:
                    self._repos = self._load(index if isinstance(index, dict) else {})
                except (KeyError, TypeError, AttributeError, RecursionError):
                    self._repos = {}
                self._stamp = stamp
            return self._repos

    def _load(self, index: dict[str, Any]) -> dict[str, Repo]:
        repos: dict[str, Repo] = {}
        for desc in index.get("manifests", []):
            try:
                ref = parse_ref((desc.get("annotations") or {}).get("org.opencontainers.image.ref.name", ""))
            except ReferenceError:
                continue  # not an image reference: nothing to serve it under
            digest = parse_digest(desc["digest"])
            if digest is None:
                continue
            repo = repos.setdefault(ref.name, Repo())
            if ref.tag is not None:
                repo.tags[ref.tag] = digest
            self._walk(repo, digest, desc["mediaType"])
        return repos

    def _walk(self, repo: Repo, value: Any, media_type: str) -> None:
        digest = parse_digest(value)
        if digest is None or digest in repo.manifests:
            return
        doc = self._doc(["oci", "blobs", "sha256", digest.hex])
        if not isinstance(doc, dict):
            return  # filtered-out platforms are simply absent
        repo.manifests[digest] = media_type
        for child in doc.get("manifests", []):
            self._walk(repo, child["digest"], child["mediaType"])
        if "config" in doc:
            named = (parse_digest(d["digest"]) for d in config_and_layers(doc))
            repo.blobs.update(d for d in named if d is not None)
