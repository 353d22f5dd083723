"""Small filesystems a test mounts itself (tmpfs): another filesystem than the cache, or a nearly full one."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. "64m") at ``path``; skips the test when mounting is not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {res.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(mount: Path, leave: int) -> None:
    """Fill ``mount`` until only about ``leave`` bytes are free."""
    import os

    st = os.statvfs(mount)
    free = st.f_bavail * st.f_frsize
    if free > leave:
        with (mount / "filler").open("wb") as f:
            f.truncate(0)
            f.write(b"\0" * (free - leave))
