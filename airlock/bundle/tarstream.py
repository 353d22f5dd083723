"""Deterministic tar writing and split bundles (reading is in ``tarread``, re-exported here).

Written entries are USTAR (no pax headers, so no timestamps), mtime 0, uid/gid 0, empty
uname/gname, mode 0644 for files and 0755 for directories. Parts of a split bundle are
``NAME.000``, ``NAME.001``... plus ``NAME.sha256sums`` listing every part and the whole.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import io
import mmap
import os
import tarfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from airlock.bundle.tarread import BLOCK, CHUNK, Member, iter_members, open_bundle
from airlock.digest import Digest
from airlock.errors import BundleError
from airlock.scratch import test_hook

__all__ = ["BLOCK", "CHUNK", "RECORD", "BundleError", "Member", "SplitWriter", "TarWriter", "iter_members",
           "open_bundle"]
RECORD = 20 * BLOCK
# copy_file_range cannot do this pair of files (another filesystem, an old kernel, a filesystem without
# support): copy through user space instead.
NO_KERNEL_COPY = {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}


_HASHERS: ThreadPoolExecutor | None = None
_HASHERS_LOCK = threading.Lock()


def _hashers() -> ThreadPoolExecutor:
    """Two threads that hash a file's mapping while the caller copies it: hashlib drops the GIL on
    large buffers, so the bundle's sha256, a blob's own sha256 and the kernel copy use both cores."""
    global _HASHERS
    with _HASHERS_LOCK:
        if _HASHERS is None:
            _HASHERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="airlock-hash")
        return _HASHERS


def _submit(fn: Any, data: Any) -> Future[Any] | None:
    """Run ``fn(data)`` on a hashing thread, or None when no thread can start (RLIMIT_AS/NPROC):
    the caller then hashes in its own thread, slower but the same bytes."""
    try:
        return _hashers().submit(fn, data)
    except RuntimeError:
        return None


def _sha256_hex(data: Any) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_size(file_sizes: list[int], dirs: int) -> int:
    """The exact size TarWriter produces for files of these sizes plus ``dirs`` directories."""
    n = sum(BLOCK + -(-s // BLOCK) * BLOCK for s in file_sizes) + dirs * BLOCK + 2 * BLOCK
    return -(-n // RECORD) * RECORD




def _header(name: str, size: int, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = 0
    info.mode = 0o755 if directory else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")


class TarWriter:
    """Writes a deterministic tar to ``out`` and hashes every byte it writes."""

    def __init__(self, out: IO[bytes]):
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._buf = bytearray(CHUNK)  # reused: no allocation per chunk on the hot path
        self._kernel_copy = True

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def _pad(self, n: int) -> None:
        if n % BLOCK:
            self._write(b"\0" * (BLOCK - n % BLOCK))

    def add_dir(self, name: str) -> None:
        self._write(_header(name.rstrip("/") + "/", 0, directory=True))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._write(_header(name, len(data)))
        self._write(data)
        self._pad(len(data))

    def add_file(self, name: str, path: Path, size: int, digest: str | None = None) -> bool:
        """Append ``path``; with ``digest`` (``sha256:<hex>``) also hash the file on its own, in the
        same pass, and return whether its bytes have that digest (the entry is written either way)."""
        self._write(_header(name, size))
        out_fd = self._out_fd()
        if size and out_fd is not None and self._kernel_copy:
            got = self._copy_range(path, size, out_fd, digest is not None)
            self._pad(size)
            return digest is None or got == digest
        written = 0
        view = memoryview(self._buf)
        own = hashlib.sha256() if digest else None
        with path.open("rb", buffering=0) as f:
            while written < size:
                n = f.readinto(view[: min(CHUNK, size - written)])
                if not n:
                    raise BundleError(f"{path} shrank while it was being written into the bundle")
                self._write(view[:n])
                if own:
                    own.update(view[:n])
                written += n
        self._pad(size)
        return own is None or Digest.from_hash(own) == digest

    def _out_fd(self) -> int | None:
        """The output's descriptor when it is a plain unbuffered file (kernel copies possible)."""
        if isinstance(self.out, SplitWriter) or not isinstance(self.out, io.FileIO):
            return None
        return self.out.fileno()

    def _copy_range(self, path: Path, size: int, out_fd: int, own: bool) -> str | None:
        """Copy in the kernel (copy_file_range) while other threads hash the file from a mapping
        (into the bundle's sha256 and, with ``own``, a sha256 of the file alone): no user-space copy
        of the data, one read of it, and the hashing runs beside the copy. Returns ``sha256:<hex>``
        of the file with ``own``. The hashes end before this returns, so the stream stays in order."""
        with path.open("rb", buffering=0) as f:
            if os.fstat(f.fileno()).st_size != size:
                raise BundleError(f"{path} changed size while it was being written into the bundle")
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as m:
                stream = _submit(self.sha256.update, m)
                alone = _submit(_sha256_hex, m) if own else None
                try:
                    self._kernel_copy_all(path, f.fileno(), out_fd, size)
                finally:  # the mapping closes only once nothing reads it
                    if stream is not None:
                        stream.result()
                    got = alone.result() if alone is not None else None
                # A thread that could not start (a process limit on threads or address space): hash here
                if stream is None:
                    self.sha256.update(m)
                if own and alone is None:
                    got = _sha256_hex(m)
        self.size += size
        return Digest.from_hex(got) if got else None

    def _kernel_copy_all(self, path: Path, in_fd: int, out_fd: int, size: int) -> None:
        offset = 0
        while offset < size:
            try:
                n = os.copy_file_range(in_fd, out_fd, size - offset, offset)
            except OSError as exc:
                if exc.errno not in NO_KERNEL_COPY:
                    raise
                self._kernel_copy = False  # and for every later file too
                self._plain_copy(path, in_fd, out_fd, offset, size)
                return
            if n <= 0:
                raise BundleError(f"{path} shrank while it was being written into the bundle")
            offset += n

    def _plain_copy(self, path: Path, in_fd: int, out_fd: int, offset: int, size: int) -> None:
        """The rest of a file from ``offset`` (hashed by the caller), through a reused buffer."""
        view = memoryview(self._buf)
        while offset < size:
            n = os.preadv(in_fd, [view[: min(CHUNK, size - offset)]], offset)
            if not n:
                raise BundleError(f"{path} shrank while it was being written into the bundle")
            done = 0
            while done < n:
                done += os.write(out_fd, view[done:n])
            offset += n

    def close(self) -> None:
        self._write(b"\0" * (2 * BLOCK))
        if self.size % RECORD:
            self._write(b"\0" * (RECORD - self.size % RECORD))


class SplitWriter(io.RawIOBase):
    """A write-only file that rolls over to ``NAME.NNN`` every ``part_size`` bytes.

    Parts are written as ``NAME.NNN.tmp`` in ``workdir`` (a run's private scratch directory; default
    beside NAME) and renamed beside NAME by :meth:`commit`.
    """

    def __init__(self, base: Path, part_size: int, workdir: Path | None = None):
        self.base, self.part_size = base, part_size
        self.workdir = workdir or base.parent
        self.parts: list[tuple[str, str]] = []  # (file name, sha256)
        self._f: IO[bytes] | None = None
        self._h: Any = None
        self._left = 0

    def writable(self) -> bool:
        return True

    def _roll(self) -> None:
        self._finish()
        name = f"{self.base.name}.{len(self.parts):03d}"
        self._f = (self.workdir / (name + ".tmp")).open("wb")
        self._h, self._left = hashlib.sha256(), self.part_size
        self.parts.append((name, ""))

    def _finish(self) -> None:
        if self._f is not None:
            self._f.close()
            name = self.parts[-1][0]
            self.parts[-1] = (name, self._h.hexdigest())
            self._f = None

    def write(self, data: Any) -> int:
        view = memoryview(data)
        while view:
            if self._f is None or self._left == 0:
                self._roll()
            n = min(self._left, len(view))
            assert self._f is not None
            self._f.write(view[:n])
            self._h.update(view[:n])
            self._left -= n
            view = view[n:]
        return len(data)

    def commit(self, whole_sha256: str) -> list[Path]:
        """Rename the parts into place and write the checksum list; returns every file written.

        The old checksum list goes first and the new one comes last, so a run killed in between
        leaves a bundle that reads as incomplete, never a mix that looks whole.
        """
        self._finish()
        sums = "".join(f"{h}  {n}\n" for n, h in self.parts) + f"{whole_sha256}  {self.base.name}\n"
        sums_path = self.base.parent / (self.base.name + ".sha256sums")
        tmp = self.workdir / (sums_path.name + ".tmp")
        tmp.write_text(sums)
        sums_path.unlink(missing_ok=True)
        out = []
        for name, _ in self.parts:
            os.replace(self.workdir / (name + ".tmp"), self.base.parent / name)
            out.append(self.base.parent / name)
            test_hook("fetch-split-commit")
        ours = {name for name, _ in self.parts}  # parts of an earlier, longer split of this name are stale
        for stale in self.base.parent.glob(f"{glob.escape(self.base.name)}.[0-9][0-9][0-9]"):
            if stale.name not in ours:
                stale.unlink()
        os.replace(tmp, sums_path)
        return [*out, sums_path]

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
        for name, _ in self.parts:
            (self.workdir / (name + ".tmp")).unlink(missing_ok=True)

