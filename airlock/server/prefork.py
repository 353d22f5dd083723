"""Worker processes for ``airlock serve --workers N``: N forks accepting on one listening socket.

Why: one asyncio loop is one Python thread on one core; with more cores than that and remote
clients, N processes can use N cores, as nginx's worker processes do (on the 2-core benchmark host,
whose clients share the cores, one worker measured better, so one is the default). The parent only
supervises: SIGTERM/SIGINT is passed on to the
workers and it returns once all have stopped; a worker that dies is replaced, unless workers keep
dying at start (a broken setup), then everything stops.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _spawn(child: Callable[[int], None], index: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_DFL)  # until the worker's loop installs its own
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        child(index)
    except BaseException:  # noqa: BLE001 (report, then leave without running the parent's cleanup)
        traceback.print_exc()
        code = 70
    finally:
        sys.stderr.flush()
        os._exit(code)


def supervise(workers: int, child: Callable[[int], None], log: Any) -> bool:
    """Run CHILD(0) ... CHILD(WORKERS - 1) in forks until a signal stops them (a replacement gets the
    index of the worker it replaces); False if they kept dying at start."""
    stopping = False
    pids: dict[int, tuple[float, int]] = {}  # pid -> (start time, index)
    quick_deaths = 0

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, stop) for sig in SIGNALS}
    try:
        for index in range(workers):
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # a stop never misses a fresh worker
            try:
                pids[_spawn(child, index)] = (time.monotonic(), index)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        while pids:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            entry = pids.pop(pid, None)
            if entry is None or stopping:
                continue
            started, index = entry
            quick_deaths += time.monotonic() - started < 2.0
            print(f"airlock serve: worker {pid} ended ({_how(status)}), starting another", file=log, flush=True)
            if quick_deaths >= 3:
                stop()
                return False
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
            try:
                pids[_spawn(child, index)] = (time.monotonic(), index)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        return True
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit {os.WEXITSTATUS(status)}"
