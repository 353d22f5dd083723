"""The read-only OCI distribution API over a site's OCI layout (``DIR/oci``).

Repositories and tags come from ``index.json``'s ``org.opencontainers.image.ref.name`` annotations
(``registry.k8s.io/kube-apiserver:v1.34.3`` is repository ``registry.k8s.io/kube-apiserver``, tag
``v1.34.3``). A repository serves the manifests reachable from its tags and the blobs they name.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass
class Repo:
    tags: dict[str, str] = field(default_factory=dict)        # tag -> manifest digest
    manifests: dict[str, str] = field(default_factory=dict)   # digest -> media type
    blobs: set[str] = field(default_factory=set)


class Catalog:
    """index.json, parsed; reloaded when it changes (an apply while serving)."""

    def __init__(self, layout: Path):
        self.layout = layout
        self._stamp: tuple[int, int] | None = None
        self._repos: dict[str, Repo] = {}
        self._lock = threading.Lock()

    def blob_path(self, digest: str) -> Path | None:
        if not _DIGEST.match(digest):
            return None
        p = self.layout / "blobs" / "sha256" / digest.split(":", 1)[1]
        return p if p.is_file() and not p.is_symlink() else None

    def repos(self) -> dict[str, Repo]:
        index = self.layout / "index.json"
        try:
            st = index.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._repos = self._load(json.loads(index.read_bytes()))
                self._stamp = stamp
            return self._repos

    def _load(self, index: dict[str, Any]) -> dict[str, Repo]:
        repos: dict[str, Repo] = {}
        for desc in index.get("manifests", []):
            ref = (desc.get("annotations") or {}).get("org.opencontainers.image.ref.name", "")
            name, _, tag = ref.rpartition(":")
            if not name or "/" in tag:
                continue
            repo = repos.setdefault(name, Repo())
            repo.tags[tag] = desc["digest"]
            self._walk(repo, desc["digest"], desc["mediaType"])
        return repos

    def _walk(self, repo: Repo, digest: str, media_type: str) -> None:
        path = self.blob_path(digest)
        if path is None or digest in repo.manifests:
            return
        repo.manifests[digest] = media_type
        doc = json.loads(path.read_bytes())
        for child in doc.get("manifests", []):
            if self.blob_path(child["digest"]) is not None:  # filtered-out platforms are simply absent
                self._walk(repo, child["digest"], child["mediaType"])
        if "config" in doc:
            repo.blobs.add(doc["config"]["digest"])
            repo.blobs.update(layer["digest"] for layer in doc.get("layers", []))
