"""`airlock serve --workers N` as a process: N workers answer, a killed worker is replaced, SIGTERM stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.world.servers import free_port

REPO = Path(__file__).resolve().parents[3]


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
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(site), "--listen", f"127.0.0.1:{port}",
                             "--workers", "2"], stderr=log.open("w"), env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        url = f"http://127.0.0.1:{port}/files/dl.example/small.txt"
        for _ in range(20):
            assert _get(url) == b"0123456789abcdef"
        workers = _children(proc.pid)
        assert len(workers) == 2
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(_children(proc.pid) - workers) < 1:  # a replacement comes up
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        for _ in range(20):
            assert _get(url) == b"0123456789abcdef"
        assert "starting another" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    text = log.read_text()
    assert "2 worker processes" in text and text.rstrip().endswith("airlock serve: stopped")
    # the killed worker may have answered its last request without having logged it yet
    assert text.count('"GET /files/dl.example/small.txt" 200 16') >= 39


def test_flags_are_validated(site: Path) -> None:
    from click.testing import CliRunner

    from airlock.cli import apply  # noqa: F401  (registers serve)
    from airlock.cli.main import cli

    for args in (["--idle-timeout", "0"], ["--header-timeout", "-1"], ["--max-connections", "0"], ["--workers", "0"]):
        res = CliRunner().invoke(cli, ["serve", str(site), "--listen", "127.0.0.1:1", *args])
        assert res.exit_code == 2 and "Invalid value" in res.output, res.output
