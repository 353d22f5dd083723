"""Scratch files and directories that a later run can tell apart from those of a live run.

A run holds ``flock(LOCK_EX)`` on every scratch file or directory it creates, for as long as it needs
it. The kernel drops that lock when the process ends, however it ends (kill -9 included), so a later
run that can take the lock knows the owner is gone and removes the leftover. Creating and locking are
two steps, so a creator re-checks after locking that its entry was not swept in between.

Also here: replacing a file whole (:func:`write_atomic`, :func:`replacing`, and :func:`replacing_locked` for
the shared cache), disk-space arithmetic and the translation of ENOSPC/EDQUOT into :class:`DiskFullError`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from airlock.errors import DiskFullError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class Scratch:
    """A locked scratch entry; ``close()`` releases the lock (and the entry stays unless removed)."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def remove(self) -> None:
        """Delete the entry, then drop the lock (in that order: no sweeper sees it unlocked)."""
        if self.path.is_dir() and not self.path.is_symlink():
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        self.close()


def _lock_new(path: Path, flags: int) -> Scratch | None:
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:  # swept between creation and open: try another name
        return None
    fcntl.flock(fd, fcntl.LOCK_EX)
    if os.fstat(fd).st_nlink == 0:  # swept between creation and lock: try another name
        os.close(fd)
        return None
    return Scratch(path, fd)


def scratch_dir(parent: Path, prefix: str) -> Scratch:
    while True:
        path = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
        got = _lock_new(path, os.O_RDONLY | os.O_DIRECTORY)
        if got:
            return got


def scratch_file(parent: Path, prefix: str, suffix: str = "") -> Scratch:
    """A new empty file, locked; write to it through its path or ``os.fdopen(os.dup(fd))``."""
    while True:
        fd, name = tempfile.mkstemp(dir=parent, prefix=prefix, suffix=suffix)
        os.close(fd)
        got = _lock_new(Path(name), os.O_RDWR)
        if got:
            return got


def fresh_file(parent: Path, prefix: str = ".part-") -> Scratch:
    """A locked temp file in a cache directory, after removing the ones killed runs left there."""
    sweep(sorted(parent.glob(prefix + "*")))
    return scratch_file(parent, prefix)


def fresh_dir(parent: Path, prefix: str) -> Scratch:
    """A locked temp directory in a cache directory, after removing the ones killed runs left there."""
    sweep(sorted(parent.glob(prefix + "*")))
    return scratch_dir(parent, prefix)


def sweep(match: Iterator[Path] | list[Path]) -> int:
    """Remove every entry of ``match`` whose owner is gone (its lock can be taken); returns how many."""
    removed = 0
    for path in match:
        try:
            fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0) | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live run owns it
        try:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


@contextmanager
def replacing(path: Path, *, mode: int | None = None, suffix: str = ".tmp",
              parents: bool = True) -> Iterator[BinaryIO]:
    """A file to write that replaces ``path`` whole when the block ends without an error, and is removed when
    it raises: written under a temp name beside ``path`` (``.NAME.xxxxxxxx`` + ``suffix``, so the rename stays
    on one filesystem), then renamed over it. ``mode`` None keeps the temp file's 0600 (mkstemp's)."""
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, suffix: str = ".tmp") -> None:
    """``path`` gets ``data`` whole or not at all (see :func:`replacing`)."""
    with replacing(path, mode=mode, suffix=suffix) as f:
        f.write(data)


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0666 less the umask."""
    mask = os.umask(0o022)  # reading the umask means setting it; put it back at once
    os.umask(mask)
    return 0o666 & ~mask


def write_output(path: Path, data: bytes) -> None:
    """A file the user named (``-o FILE``), written as :func:`write_atomic` does but as a plain write would
    look: an existing file keeps its mode and a symlink its target; a new file gets 0666 less the umask; a
    device or pipe (``-o /dev/stdout``) is written in place, having no directory entry to replace."""
    real = Path(os.path.realpath(path))
    try:
        st = real.stat()
    except FileNotFoundError:
        mode = new_file_mode()
    else:
        if not stat.S_ISREG(st.st_mode):
            real.write_bytes(data)
            return
        mode = stat.S_IMODE(st.st_mode)
    with replacing(real, mode=mode, parents=False) as f:  # a missing directory stays an error, as before
        f.write(data)


@contextmanager
def replacing_locked(path: Path, prefix: str = ".part-", *, sweep_first: bool = True) -> Iterator[BinaryIO]:
    """:func:`replacing` for a directory that several runs share (the cache): the temp is a locked scratch file
    (``prefix`` + random), so a later run removes it only when its run is gone. ``sweep_first`` first removes
    what killed runs left there (else the owner of the directory sweeps it, as :meth:`Store.sweep` does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = (fresh_file if sweep_first else scratch_file)(path.parent, prefix)
    try:
        with part.path.open("wb") as f:
            yield f
        os.replace(part.path, path)
    finally:
        part.remove()  # after the rename this only drops the lock


@contextmanager
def locked(path: Path, *, directory: bool = False) -> Iterator[int]:
    """Hold ``flock(LOCK_EX)`` on an existing file or directory for the block."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path`` (or its nearest parent)."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    st = os.statvfs(p)
    return st.f_bavail * st.f_frsize


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def require_space(path: Path, needed: int, what: str) -> None:
    """Refuse before writing when the filesystem of ``path`` has less free space than ``needed``.

    AIRLOCK_SPACE_CHECK=0 skips this (for filesystems whose statvfs is wrong); writes that then run
    out of space still end in the same clean error.
    """
    if os.environ.get("AIRLOCK_SPACE_CHECK") == "0":
        return
    free = free_bytes(path)
    if needed > free:
        raise disk_full(path, needed, what, free=free)


def disk_full(path: Path, needed: int, what: str, *, free: int | None = None,
              left: str = "nothing was half-written") -> DiskFullError:
    if free is None:
        try:
            free = free_bytes(path)
        except OSError:
            free = 0
    return DiskFullError(f"not enough disk space in {path} for {what}: needs {human(needed)}, "
                         f"{human(free)} free",
                         hint=f"free at least {human(max(needed - free, 1))} there (or choose another location) "
                              f"and run the command again; {left}")


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def test_hook(point: str) -> None:
    """Die like kill -9 at a named point when AIRLOCK_TEST_KILL says so: how tests crash a run exactly there."""
    if os.environ.get("AIRLOCK_TEST_KILL") == point:
        os.kill(os.getpid(), signal.SIGKILL)
