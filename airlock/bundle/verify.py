"""``airlock verify`` and ``airlock inspect``: check a bundle completely, or describe it.

Verification streams the bundle once (see docs/bundle-format.md for what it proves): bundle.json
comes first and must follow the naming rules (``model.index_problem``); airlock.lock comes second and
must hash to ``lock_sha256`` (and to ``--expect-lock`` when given); every later member must be listed,
once, with the same size and sha256, and hash to its own name; members read into memory are refused
above their cap before they are read; then every blob is checked against what the lock says it is
(``consistency``), and a full bundle must hold every blob the lock needs.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from airlock.bootstrap.check import check_bootstrap
from airlock.bundle.consistency import check_against_lock, check_tree
from airlock.bundle.model import MAX_INDEX, MAX_KEPT, BundleIndex, Entry, index_problem
from airlock.bundle.tarread import CHUNK, drain_parts, iter_members, open_bundle
from airlock.digest import Digest
from airlock.errors import AirlockError, BundleError
from airlock.lockfile import Lock, parse_lock


@dataclass
class Verified:
    index: BundleIndex
    lock: Lock
    lock_bytes: bytes
    manifests: dict[str, bytes] = field(default_factory=dict)  # small JSON blobs kept for checks


def verify_bundle(path: Path, *, keep: Any = None, expect_lock: str | None = None) -> Verified:
    """Verify ``path`` (or its split parts). ``keep(name, entry)`` may return a sink for each entry's bytes.

    ``expect_lock`` (a lowercase sha256) refuses a bundle whose lock is any other, before its blobs are read.
    """
    where = str(path)
    with open_bundle(path) as stream:
        scan = _Scan(where, keep, expect_lock)
        try:
            for member, data in iter_members(stream, where):
                scan.member(member.name, data)
                if scan.wrong_lock:
                    break  # conclusive, and no damage explains a well-formed other lock: do not read on
        except AirlockError:
            drain_parts(stream)  # a damaged part of a split bundle is the better message
            raise
    if scan.wrong_lock:
        raise BundleError(f"{where}: the bundle's lock is sha256 {scan.wrong_lock}, not the expected {expect_lock}",
                          hint="this is not the bundle of the reviewed lock; do not use it")
    if scan.index is None or scan.lock is None:
        raise BundleError(f"{where}: empty bundle" if scan.index is None else f"{where}: the bundle has no lock",
                          hint="this is not an airlock bundle")
    missing = sorted(set(scan.listed) - scan.seen)
    if missing:
        raise BundleError(f"{where}: {len(missing)} listed entries are missing, e.g. {missing[0]}",
                          hint="the bundle is truncated; copy it again")
    check_against_lock(scan.index, scan.lock, scan.kept, where)
    check_bootstrap(scan.lock, scan.index, where)
    return Verified(scan.index, scan.lock, scan.lock_bytes, scan.kept)


class _Scan:
    def __init__(self, where: str, keep: Any, expect_lock: str | None):
        self.where, self.keep, self.expect_lock = where, keep, expect_lock
        self.index: BundleIndex | None = None
        self.lock: Lock | None = None
        self.lock_bytes = b""
        self.listed: dict[str, Entry] = {}
        self.seen: set[str] = set()
        self.kept: dict[str, bytes] = {}
        self.wrong_lock: str | None = None

    def member(self, name: str, data: Any) -> None:
        where = self.where
        if self.index is None:
            if name != "bundle.json" or data is None:
                raise BundleError(f"{where}: the first entry is {name!r}, not bundle.json",
                                  hint="this is not an airlock bundle, or it was repacked")
            if data.left > MAX_INDEX:
                raise BundleError(f"{where}: bundle.json is {data.left} bytes, more than the {MAX_INDEX >> 20} MiB "
                                  "airlock reads", hint="do not use this bundle")
            self.index = _parse_index(data.read(), where)
            if self.expect_lock and self.index.lock_sha256 != self.expect_lock:
                self.wrong_lock = self.index.lock_sha256
            self.listed = {e.path: e for e in self.index.entries}
            return
        if data is None:
            if name not in ("blobs", "blobs/sha256") and not _bootstrap_dir(name):
                raise BundleError(f"{where}: unexpected directory {name!r}", hint="do not use this bundle")
            return
        entry = self.listed.get(name)
        if entry is None:
            raise BundleError(f"{where}: {name!r} is not listed in bundle.json", hint="do not use this bundle")
        if name in self.seen:
            raise BundleError(f"{where}: {name!r} appears twice", hint="do not use this bundle")
        if self.lock is None and name != "airlock.lock":
            raise BundleError(f"{where}: {name!r} comes before airlock.lock",
                              hint="this is not an airlock bundle, or it was repacked")
        self.seen.add(name)
        if data.left != entry.size:
            raise BundleError(f"{where}: {name} ({_what(entry)}) is {data.left} bytes in the tar, but bundle.json "
                              f"says {entry.size}", hint="copy the bundle again; do not use this one")
        buf = self._read(name, entry, data)
        if buf is not None:
            self.kept[entry.digest] = buf
        if name == "airlock.lock":
            self.lock_bytes = buf or b""
            try:
                text = self.lock_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleError(f"{where}: airlock.lock is not UTF-8", hint="do not use this bundle") from None
            self.lock = parse_lock(text, f"{where}:airlock.lock")

    def _read(self, name: str, entry: Entry, data: Any) -> bytes | None:
        """Hash (and pass to ``keep``) the member's bytes; return them when they are kept for checks."""
        tee = _Tee(data, bytearray() if entry.kind in MAX_KEPT else None,  # sizes were capped by index_problem
                   self.keep(name, entry) if self.keep else None)
        tree_error = None
        try:
            if entry.kind == "kubespray" and self.lock is not None and self.lock.kubespray.kind == "directory":
                # A directory is pinned by its tree digest, not by the tar fetch made of it: recompute it.
                try:
                    check_tree(tee, self.lock.kubespray.sha256, f"{self.where}: {name} (Kubespray source)")
                except BundleError as exc:
                    tree_error = exc  # damage in transit is the better message, if the hash shows it
            while tee.read(CHUNK):
                pass
        finally:
            if tee.sink:
                tee.sink.close()
        got = Digest.from_hash(tee.h)
        if got != entry.digest:
            raise BundleError(f"{self.where}: {name} ({_what(entry)}) is damaged: expected {entry.digest}, got {got}",
                              hint="copy the bundle again; do not use this one")
        if tree_error:
            raise tree_error
        return bytes(tee.buf) if tee.buf is not None else None


class _Tee:
    """A member's bytes as they are read: hashed, kept when asked, and copied to ``keep``'s sink."""

    def __init__(self, data: Any, buf: bytearray | None, sink: Any):
        self.data, self.buf, self.sink = data, buf, sink
        self.h = hashlib.sha256()

    def read(self, n: int) -> bytes:
        chunk: bytes = self.data.read(n)
        self.h.update(chunk)
        if self.buf is not None:
            self.buf += chunk
        if self.sink:
            self.sink.write(chunk)
        return chunk


def _what(entry: Entry) -> str:
    return ", ".join(entry.serves) or entry.kind


def _bootstrap_dir(name: str) -> bool:
    """bootstrap/ and its wheels/, rpms/, rpms/repodata/ and debs/ directories."""
    return name in ("bootstrap", "bootstrap/wheels", "bootstrap/rpms", "bootstrap/rpms/repodata", "bootstrap/debs")


def _parse_index(raw: bytes, where: str) -> BundleIndex:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BundleError(f"{where}: bundle.json is not JSON", hint="do not use this bundle") from None
    if not isinstance(data, dict) or data.get("format") != 1:
        got = data.get("format") if isinstance(data, dict) else None
        raise BundleError(f"{where}: bundle format {got!r} is not supported (this airlock reads 1)",
                          hint="use the airlock release that wrote the bundle")
    try:
        index = BundleIndex.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise BundleError(f"{where}: invalid bundle.json: {loc}: {err['msg']}", hint="do not use this bundle") from None
    problem = index_problem(index)
    if problem:
        raise BundleError(f"{where}: bundle.json: {problem}", hint="do not use this bundle")
    return index


def inspect_bundle(path: Path) -> dict[str, Any]:
    v = verify_bundle(path)
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "bytes": 0})
    per_image: dict[str, int] = defaultdict(int)
    for e in v.index.entries:
        by_kind[e.kind]["count"] += 1
        by_kind[e.kind]["bytes"] += e.size
        for s in e.serves:
            if s.startswith("image:"):
                per_image[s[len("image:"):]] += e.size
    return {
        "bundle": str(path),
        "format": v.index.format,
        "lock_sha256": v.index.lock_sha256,
        "delta_of": v.index.base_lock_sha256,
        "kubespray": v.lock.kubespray.version,
        "by_kind": dict(sorted(by_kind.items())),
        "files": [{"name": f.name, "arch": f.arch, "size": f.size, "path": f.path} for f in v.lock.file],
        "images": [{"ref": i.ref.canonical, "arch": [p.arch for p in i.platforms],
                    "bytes": per_image.get(i.ref.canonical, 0),
                    "target": i.target} for i in v.lock.image],
        "total_bytes": sum(e.size for e in v.index.entries),
    }
