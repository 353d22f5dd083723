"""The shared content-addressed cache: ``blobs/sha256/<hex>``, verified before it is ever visible.

A download streams into ``partial/<hex>`` while hashing; it is renamed into ``blobs/`` only when size
and digest match. A partial survives a crash or a dropped connection and is resumed with HTTP
Range; a blob whose bytes are wrong is deleted and reported with both digests.

Several processes (and threads) may share one cache: a download holds ``flock`` on ``locks/<hex>``,
so only the holder ever touches ``partial/<hex>``; a waiter that gets the lock after the blob was
finished uses it. Small blobs are written to a locked ``blobs/sha256/.tmp-*`` and renamed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from airlock.cache import cache_root
from airlock.digest import Digest, parse_digest
from airlock.errors import BadDigest, CorruptCache, DigestMismatch, NetworkError
from airlock.net.http import transport_errors
from airlock.scratch import disk_full, is_no_space, replacing_locked, sweep, test_hook

CHUNK = 1 << 20
# Over a WAN each of 16 streams gets a few MB/s, and a socket read returns the few kB that arrived
# since the last one: a cold 333 MB fetch made ~80,000 reads, each a trip through httpx and h11 in
# Python, most of its CPU. After a small read in the middle of a large body, a download waits
# READ_PAUSE so the next read takes what piled up in the kernel meanwhile; a fast stream never
# pauses (its reads are large), the kernel buffer holds at most SMALL_READ + READ_PAUSE of a stream's
# data, and the last MiB of a body is read at once. Measured (benchmarks/fetch_wan.py, large world,
# with the MiB writes): 27,600 reads instead of 77,700, the link as busy as before; a cold fetch's
# CPU 6% lower in an interleaved A/B, 40% lower while the servers themselves were short of CPU.
SMALL_READ = 32 << 10
READ_PAUSE = 0.01
_pause = time.sleep




def hex_of(digest: str) -> str:
    """The hex part, refused unless it is exactly 64 lowercase hex digits: it becomes a file name."""
    d = parse_digest(digest)
    if d is None:
        raise BadDigest(f"{str(digest)[:100]!r} is not a sha256 digest", hint="do not use this lock or image")
    return d.hex


class Store:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_root()
        self.blobs = self.root / "blobs" / "sha256"
        self.partial = self.root / "partial"
        self.locks = self.root / "locks"
        self.memos = self.root / "memos"  # see recall()

    def sweep(self) -> int:
        """Remove temp files and lock files that runs which have ended left behind."""
        n = sweep(list(self.blobs.glob(".tmp-*"))) if self.blobs.is_dir() else 0
        if self.memos.is_dir():
            n += sum(sweep(list(d.glob(".tmp-*"))) for d in self.memos.iterdir() if d.is_dir())
        return n + (sweep(list(self.locks.iterdir())) if self.locks.is_dir() else 0)

    @contextmanager
    def _blob_lock(self, hexd: str) -> Iterator[None]:
        """Exclusive use of one digest's partial file, across processes and threads.

        The holder unlinks the lock file before it unlocks, so the directory does not fill up with
        lock files; a waiter that then wakes on an unlinked file opens the path again.
        """
        self.locks.mkdir(parents=True, exist_ok=True)
        path = self.locks / hexd
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            yield
        finally:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            os.close(fd)

    def path(self, digest: str) -> Path:
        return self.blobs / hex_of(digest)

    def has(self, digest: str, size: int | None = None) -> bool:
        try:
            st = self.path(digest).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def partial_size(self, digest: str) -> int:
        """Bytes a killed or dropped download left in ``partial/`` (resumed from there)."""
        try:
            return (self.partial / hex_of(digest)).stat().st_size
        except FileNotFoundError:
            return 0

    def put_bytes(self, digest: str, data: bytes, *, what: str) -> None:
        got = Digest.of(data)
        if got != digest:
            raise DigestMismatch(f"{what}: expected {digest}, got {got}", what=what, expected=digest, got=got)
        if self.has(digest, len(data)):
            return
        try:
            with replacing_locked(self.path(digest), ".tmp-", sweep_first=False) as f:  # sweep() sweeps these
                f.write(data)
        except OSError as exc:
            if is_no_space(exc):
                raise disk_full(self.blobs, len(data), what) from None
            raise

    # Memos: sha256 values that are a pure function of a sha256 key, recorded by a run that computed
    # them so a later run skips the work (``memos/<kind>/<key>``). Only for work whose result is
    # checked anyway: the bundle's stream sha256 (a run that checked every blob records it for its
    # index; a later run compares the sha256 it computes anyway with it instead of hashing each
    # cached blob again, and a mismatch means a cached blob changed since), the tar of a Kubespray
    # tree (the blob is checked when it is written into the bundle) and a manifest's digest.

    def recall(self, kind: str, key: str) -> str | None:
        try:
            text = (self.memos / kind / Digest.from_hex(key).hex).read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text if re.fullmatch(r"[0-9a-f]{64}", text) else None

    def remember(self, kind: str, key: str, value: str) -> None:
        try:
            with replacing_locked(self.memos / kind / Digest.from_hex(key).hex, ".tmp-", sweep_first=False) as f:
                f.write((value + "\n").encode())
        except OSError:
            return  # only a memo: the next run does the work again

    def forget(self, kind: str, key: str) -> None:
        (self.memos / kind / Digest.from_hex(key).hex).unlink(missing_ok=True)

    def evict(self, digest: str) -> None:
        """Remove a cached blob whose bytes no longer match its name (the next fetch downloads it)."""
        with self._blob_lock(hex_of(digest)):
            self.path(digest).unlink(missing_ok=True)

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def read_checked(self, digest: str) -> bytes:
        """A small cached blob (a manifest) about to be parsed: its bytes are checked first."""
        data = self.read(digest)
        if Digest.of(data) != digest:
            raise CorruptCache([digest])
        return data

    def download(self, digest: str, size: int | None, opener: Callable[[int], AbstractContextManager[Any]], *,
                 what: str, sha512: str | None = None, retries: int = 4,
                 on_bytes: Callable[[int], None] | None = None) -> int:
        """Fetch ``digest`` via ``opener(offset)`` (a streamed response; offset > 0 asks for a Range).

        Returns the number of bytes transferred. Resumes a partial left by an earlier run.
        """
        if self.has(digest, size):
            return 0
        with self._blob_lock(hex_of(digest)):
            if self.has(digest, size):  # another process finished it while this one waited
                return 0
            return self._download(digest, size, opener, what=what, sha512=sha512, retries=retries,
                                  on_bytes=on_bytes)

    def _download(self, digest: str, size: int | None, opener: Callable[[int], AbstractContextManager[Any]], *,
                  what: str, sha512: str | None, retries: int, on_bytes: Callable[[int], None] | None) -> int:
        self.partial.mkdir(parents=True, exist_ok=True)
        part = self.partial / hex_of(digest)
        transferred = 0
        last_error: Exception | None = None
        for _attempt in range(retries + 1):
            h256, h512 = hashlib.sha256(), hashlib.sha512() if sha512 else None
            offset = _rehash(part, h256, h512)
            try:
                with opener(offset) as resp:
                    if resp.status_code == 200 and offset:
                        offset = 0  # the server ignored Range: start over
                        h256, h512 = hashlib.sha256(), hashlib.sha512() if sha512 else None
                    elif resp.status_code == 416 and offset:
                        part.unlink(missing_ok=True)
                        continue
                    elif resp.status_code not in (200, 206):
                        raise NetworkError(f"{what}: HTTP {resp.status_code}")
                    with part.open("r+b" if offset else "wb", buffering=0) as out:
                        out.seek(offset)
                        out.truncate()
                        sink = _Sink(out, h256, h512)
                        try:
                            for chunk in resp.iter_raw():  # as it arrives: a dropped connection keeps it
                                sink.add(chunk)
                                transferred += len(chunk)
                                if on_bytes:
                                    on_bytes(len(chunk))
                                if size is not None and offset + sink.length > size:
                                    break
                                if len(chunk) < SMALL_READ and size is not None \
                                        and size - offset - sink.length > CHUNK:
                                    _pause(READ_PAUSE)
                        finally:
                            sink.flush()
            except NetworkError:
                raise
            except OSError as exc:
                if is_no_space(exc):  # the partial stays: the next run resumes it
                    have = part.stat().st_size if part.exists() else 0
                    raise disk_full(self.partial, max((size or 0) - have, 1 << 20), what,
                                    left="the partial download is kept and resumed then") from None
                last_error = exc
                continue
            except transport_errors() as exc:  # dropped connection, truncated body: resume from what we have
                last_error = exc
                continue
            got = Digest.from_hash(h256)
            length = part.stat().st_size
            if got != digest or (size is not None and length != size) or (h512 and h512.hexdigest() != sha512):
                part.unlink(missing_ok=True)
                detail = f"sha256 {got}, size {length}" + (f", sha512 {h512.hexdigest()}" if h512 else "")
                raise DigestMismatch(
                    f"{what}: downloaded bytes do not match the lock: expected {digest}"
                    f"{f' ({size} bytes)' if size is not None else ''}, got {detail}",
                    what=what, expected=digest, got=detail,
                    hint="the upstream or a mirror serves other bytes than were pinned; nothing was cached")
            self.blobs.mkdir(parents=True, exist_ok=True)
            os.replace(part, self.path(digest))
            return transferred
        raise NetworkError(f"{what}: download kept failing after {retries + 1} attempts ({last_error})",
                           hint="rerun `airlock fetch`: finished blobs and partial downloads are kept")


class _Sink:
    """Collects a body's chunks and writes and hashes them a MiB at a time.

    Over a WAN link a socket read returns a few kB (4 kB on average with 16 streams at 200 Mbit/s,
    measured with benchmarks/fetch_wan.py): writing and hashing each one cost a system call and two
    GIL hand-offs per 4 kB, most of a cold fetch's CPU. At most a MiB per download is lost to a kill -9
    (the next run downloads it again); a dropped connection flushes what arrived."""

    def __init__(self, out: Any, h256: Any, h512: Any):
        self.out, self.h256, self.h512 = out, h256, h512
        self.buf = bytearray()
        self.length = 0  # bytes received in this response

    def add(self, chunk: bytes) -> None:
        self.buf += chunk
        self.length += len(chunk)
        if len(self.buf) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.buf:
            return
        view = memoryview(self.buf)
        while view:
            view = view[self.out.write(view):]
        self.h256.update(self.buf)
        if self.h512:
            self.h512.update(self.buf)
        self.buf = bytearray()
        test_hook("fetch-partial")


def _rehash(part: Path, h256: Any, h512: Any) -> int:
    """Feed an existing partial into the hashers; returns its length (0 when there is none)."""
    try:
        with part.open("rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h256.update(chunk)
                if h512:
                    h512.update(chunk)
            return f.tell()
    except FileNotFoundError:
        return 0
