"""Writing a test's airlock.yaml: a head every case of a module shares, then the case's own body."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def manifest_writer(head: str) -> Callable[[Path, str], Path]:
    """``write(tmp_path, body)``: ``tmp_path/airlock.yaml`` holding ``head + body``, its path returned."""
    def write(tmp_path: Path, body: str) -> Path:
        p = tmp_path / "airlock.yaml"
        p.write_text(head + body)
        return p
    return write
