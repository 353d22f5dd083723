"""The locks a review compares: a file, or a version of one in git history (``git:REV:path``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from airlock.errors import UsageError
from airlock.lockfile import Lock, parse_lock, read_lock

GIT_PREFIX = "git:"


def load_lock_spec(spec: str) -> Lock:
    """The lock ``spec`` names: a path, or ``git:REV:path`` read with ``git show`` in the current directory's
    repository (so a reviewer compares a branch's lock with the one it replaces without checking anything out)."""
    if not spec.startswith(GIT_PREFIX):
        return read_lock(Path(spec))
    rev, _, path = spec[len(GIT_PREFIX):].partition(":")
    if not rev or not path:
        raise UsageError(f"{spec!r} is not git:REV:path", hint="e.g. git:HEAD~1:airlock.lock")
    res = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    if res.returncode != 0:
        raise UsageError(f"git show {rev}:{path} failed: {res.stderr.strip()}")
    return parse_lock(res.stdout, spec)
