"""`airlock serve --workers N` as a process: N workers answer, a killed worker is replaced, SIGTERM stops all."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

from tests.helpers import airlock_serve


def _children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _get(url: str) -> bytes:
    deadline = time.monotonic() + 60
    while True:
        try:
            return urllib.request.urlopen(url, timeout=10).read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_workers_serve_are_replaced_and_stop(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("w") as out, airlock_serve(site, "--workers", "2", log=out) as served:
        url = f"{served.url}/files/dl.example/small.txt"
        for _ in range(20):
            assert _get(url) == b"0123456789abcdef"
        workers = _children(served.proc.pid)
        assert len(workers) == 2
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(_children(served.proc.pid) - workers) < 1:  # a replacement comes up
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        for _ in range(20):
            assert _get(url) == b"0123456789abcdef"
    text = log.read_text()  # airlock_serve stopped it with SIGTERM and saw exit 0
    assert "starting another" in text
    assert "2 worker processes" in text and text.rstrip().endswith("airlock serve: stopped")
    # the killed worker may have answered its last request without having logged it yet
    assert text.count('"GET /files/dl.example/small.txt" 200 16') >= 39
