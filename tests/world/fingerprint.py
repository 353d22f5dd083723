"""A fingerprint of a directory tree, to prove that a refused apply left DIR as it was and that
two applies of one bundle give the same site."""

from __future__ import annotations

import hashlib
from pathlib import Path

# Files that name DIR itself: two sites of the same bundle in two directories differ only in them.
DIR_NAMING = frozenset({"admin/airlock-serve.service", "admin/nginx/airlock.conf"})


def tree_fingerprint(dest: Path, exclude: frozenset[str] = frozenset()) -> str:
    """sha256 over every path, mode and content under ``dest``, but ``exclude``."""
    h = hashlib.sha256()
    for p in sorted(dest.rglob("*")):
        rel = p.relative_to(dest).as_posix()
        if rel in exclude:
            continue
        st = p.lstat()
        h.update(f"{rel}\0{oct(st.st_mode)}\0".encode())
        if p.is_file() and not p.is_symlink():
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
