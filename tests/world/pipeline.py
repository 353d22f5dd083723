"""The whole chain for a manifest, as tests use it: resolve, fetch, apply, then `airlock serve`."""

from __future__ import annotations

import os
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
    with applied_and_served(root / "b.tar", root / "site", cache) as (port, _):
        yield root / "site", port, lock


@contextmanager
def applied_and_served(bundle: Path, site: Path, cache: Path, log: Path | None = None
                       ) -> Iterator[tuple[int, subprocess.CompletedProcess[str]]]:
    """(port, apply's result) of ``bundle`` applied to ``site`` for a free port and `airlock serve` on it (its
    stderr to ``log``). The port is picked before serve starts because apply writes it into offline.yml."""
    port = free_port()
    res = airlock("apply", str(bundle), "--dest", str(site), "--url", f"http://127.0.0.1:{port}", cache=cache)
    assert res.returncode == 0, res.stderr
    with log.open("w") if log else open(os.devnull, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(site), "--listen",
                                 f"127.0.0.1:{port}"], stderr=err)
        try:
            wait_http(f"http://127.0.0.1:{port}/v2/", proc)
            yield port, res
        finally:
            proc.terminate()
            proc.wait(10)
