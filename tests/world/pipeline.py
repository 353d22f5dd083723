"""The whole chain for a manifest, as tests use it: resolve, fetch, apply, then `airlock serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.world.servers import free_port


def airlock(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airlock", *args], capture_output=True, text=True,
                          env={**os.environ, "AIRLOCK_CACHE": str(cache), "AIRLOCK_BACKOFF": "0.01"})


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.05)


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
        wait_for(f"http://127.0.0.1:{port}/v2/", proc)
        yield root / "site", port, lock
    finally:
        proc.terminate()
        proc.wait(10)
