"""Committing a site all at once: build the new DIR beside the old one, then swap the two.

The new site is a hardlinked clone of DIR (no data is copied: blobs and files share inodes) that
apply then updates the usual way: write to a temporary name and rename, never write in place. The
finished clone and DIR are exchanged with one ``renameat2(RENAME_EXCHANGE)``, so a reader — ``airlock
serve`` resolving paths under DIR — sees either the old site or the new one, and a run killed at any
point leaves one of them in DIR. Where the kernel or filesystem lacks the exchange, two renames are
used and the next run puts the old site back if the process died between them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
from pathlib import Path, PurePosixPath

from airlock.errors import BundleError, UsageError
from airlock.scratch import test_hook

AT_FDCWD = -100
RENAME_EXCHANGE = 2
# Names earlier airlock versions gave temp files inside DIR: `.NAME.airlock-tmp` and mkstemp's `.NAME.xxxxxxxx`.
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:airlock-tmp|[a-z0-9_]{8})$")


def staging_prefix(dest: Path) -> str:
    return f".{dest.name}.airlock-"


def check_dest(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--dest {dest} exists and is not a directory", hint="choose a directory for the site")
    if os.path.ismount(dest):
        raise UsageError(f"{dest} is a mount point; apply replaces the site directory as a whole",
                         hint=f"use a directory inside the mount, e.g. --dest {dest / 'site'}")


def inside(dest: Path, rel: str) -> Path:
    """``dest / rel``, refused unless it stays inside ``dest`` (no `..`, no symlink inside DIR leading out)."""
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel or "\0" in rel or "" in rel.split("/"):
        raise BundleError(f"apply would write {rel!r}, which is not a plain path inside {dest}",
                          hint="do not use this bundle")
    real = os.path.realpath(dest / rel)
    if real != str(dest) and not real.startswith(str(dest) + os.sep):
        raise BundleError(f"apply would write {rel!r}, which leads out of {dest} (to {real}) through a symlink",
                          hint=f"remove the symlink from {dest}; the site never contains links out of itself")
    return dest / rel


def is_leftover_temp(path: Path) -> bool:
    m = _TEMP.match(path.name)
    return m is not None and (path.parent / m.group("name")).exists() and path.is_file()


def clone(src: Path, dst: Path, skip: set[str]) -> None:
    """Recreate ``src`` at ``dst``: directories and symlinks anew, files as hardlinks (copies across filesystems).

    Top-level names in ``skip`` are left out (a tree apply replaces anyway); leftover temp files too.
    """
    dst.mkdir(mode=0o755)
    _same_meta(src, dst)
    stack = [(src, dst, True)]
    while stack:
        s, d, top = stack.pop()
        with os.scandir(s) as it:
            for entry in it:
                if top and entry.name in skip:
                    continue
                target = d / entry.name
                if entry.is_symlink():
                    os.symlink(os.readlink(entry.path), target)
                elif entry.is_dir():
                    target.mkdir()
                    _same_meta(Path(entry.path), target)
                    stack.append((Path(entry.path), target, False))
                elif entry.is_file():
                    if is_leftover_temp(Path(entry.path)):
                        continue
                    link_or_copy(Path(entry.path), target)


def _same_meta(src: Path, dst: Path) -> None:
    """A cloned directory keeps its mode, and its owner when we may set it (running as root)."""
    st = os.stat(src)
    os.chmod(dst, st.st_mode & 0o7777)
    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
        os.chown(dst, st.st_uid, st.st_gid)


def link_or_copy(src: Path, target: Path) -> None:
    try:
        os.link(src, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copy2(src, target)  # another filesystem, or one without hardlinks: a copy is the only way


def _renameat2(a: Path, b: Path, flags: int) -> None:
    if os.environ.get("AIRLOCK_TEST_NO_EXCHANGE"):  # tests: take the fallback path
        raise OSError(errno.ENOSYS, "renameat2 disabled for a test")
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a), None, str(b))


def swap_in(new: Path, dest: Path, old: Path) -> None:
    """Make ``new`` the site at ``dest``; the previous site ends at ``old`` (if there was one)."""
    if not dest.exists():
        os.rename(new, dest)
        return
    try:
        _renameat2(new, dest, RENAME_EXCHANGE)
        return  # `new` now holds the old site, removed with the staging directory
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    os.rename(dest, old)
    test_hook("apply-half-swapped")
    os.rename(new, dest)


def recover(dest: Path, stagings: list[Path]) -> None:
    """A run killed between the two fallback renames left no DIR: put the old site back."""
    if dest.exists():
        return
    for stage in stagings:
        if (stage / "old").is_dir():
            os.rename(stage / "old", dest)
            return
