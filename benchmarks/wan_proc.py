"""Processes and sampling for benchmarks/fetch_wan.py: children run without proxies and are
tracked so an interrupted run can end them; a sampler reads the namespace's link counters."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

from benchmarks import wan_stats as st
from benchmarks.wan_world import REPO

LIVE: set[subprocess.Popen[Any]] = set()  # children to end on the way out, by pid


def child_env() -> dict[str, str]:
    # No proxy: every request must go to the private link or loopback, never anywhere else.
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(NO_PROXY="*", no_proxy="*", PIP_CONFIG_FILE=os.devnull, PYTHONPATH=str(REPO))
    return env


def run(cmd: list[str], timeout: float = 600) -> tuple[float, str]:
    """Wall seconds and stdout of a command; fails loudly."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    LIVE.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        LIVE.discard(proc)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - t0, out.decode()


def run_rss(cmd: list[str]) -> tuple[float, int, float, str]:
    """Like run(), with the peak RSS and CPU seconds of the child itself (os.wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=child_env(), stdout=out, stderr=err, start_new_session=True)
        LIVE.add(proc)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            LIVE.discard(proc)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if status:
            raise RuntimeError(f"{' '.join(cmd)} failed: {err.read().decode(errors='replace')[-2000:]}")
        return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, out.read().decode()


class Sampler:
    """Samples, every 50 ms, the bytes the namespace sent over the link and its established server
    connections (through /proc/<pid>/net of a process inside it)."""

    def __init__(self, pid: int, dev: str, ports: set[int]):
        self.pid, self.dev, self.ports = pid, dev, ports
        self.samples: list[tuple[float, int]] = []
        self.conns: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def snmp(self) -> dict[str, int]:
        return st.tcp_counters(Path(f"/proc/{self.pid}/net/snmp").read_text())

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            net = Path(f"/proc/{self.pid}/net")
            self.samples.append((time.perf_counter() - t0, st.dev_bytes((net / "dev").read_text(), self.dev)[1]))
            self.conns.append(st.established((net / "tcp").read_text(), self.ports))
            self._stop.wait(0.05)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
