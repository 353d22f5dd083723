"""The whole chain for a manifest, as tests use it: resolve, fetch, apply, then `airlock serve`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import airlock, free_port, wait_http

# The name tests written before tests/helpers.py import (other branches may still add some).
wait_for = wait_http


@contextmanager
def served_site(manifest: Path, root: Path) -> Iterator[tuple[Path, int, Path]]:
    """(site dir, port, lock path) of the manifest's bundle applied and served on 127.0.0.1."""
    cache = root / "cache"
    lock = manifest.parent / "airlock.lock"
    for args in (["resolve", "-f", str(manifest)], ["fetch", "--lock", str(lock), "-o", str(root / "b.tar")]):
        res = airlock(*args, cache=cache)
        assert res.returncode == 0, res.stderr
    port = free_port()
    res = airlock("apply", str(root / "b.tar"), "--dest", str(root / "site"), "--url", f"http://127.0.0.1:{port}",
                  cache=cache)
    assert res.returncode == 0, res.stderr
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(root / "site"), "--listen",
                             f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", proc)
        yield root / "site", port, lock
    finally:
        proc.terminate()
        proc.wait(10)
