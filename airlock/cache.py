"""Where airlock keeps downloaded data between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    if os.environ.get("AIRLOCK_CACHE"):
        return Path(os.environ["AIRLOCK_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airlock"
