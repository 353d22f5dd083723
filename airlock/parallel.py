"""Bounded parallelism: run calls on a thread pool; the first failure cancels what has not started."""

from __future__ import annotations

import ctypes
import heapq
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Let glibc's malloc keep at most ``arenas`` arenas. By default every thread that allocates while
    another does gets an arena of its own, each reserving 64 MiB of address space, up to eight per
    core: a fetch's download threads reached 1 GiB of virtual size that way and failed with
    MemoryError under ``ulimit -v 1G`` (the tamper tests run fetch so). CPython allocates under
    the GIL, so more arenas buy it nothing. False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt), or no C library to load
        return False


def run_all(calls: list[Callable[[], Any]], concurrency: int) -> list[Any]:
    if not calls:
        return []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(c) for c in calls]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


class PriorityPool:
    """A thread pool that always starts the queued job with the smallest key next (not FIFO).

    Each :meth:`submit` adds one job to a heap and one "run the best job" call to the executor, so
    every job runs exactly once and the choice is made when a thread frees up: a job submitted later
    with a smaller key overtakes the ones still waiting. :meth:`cancel` drops whatever has not started.
    """

    def __init__(self, workers: int):
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self._heap: list[tuple[Any, int, Callable[[], Any], Any]] = []
        self._lock = threading.Lock()
        self._seq = 0  # ties run in submission order; never compares the callables

    def submit(self, key: Any, call: Callable[[], Any]) -> Any:
        fut: Future[Any] = Future()
        with self._lock:
            heapq.heappush(self._heap, (key, self._seq, call, fut))
            self._seq += 1
        self._pool.submit(self._run_best)
        return fut

    def _run_best(self) -> None:
        with self._lock:
            _, _, call, fut = heapq.heappop(self._heap)
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiter, which re-raises it
            fut.set_exception(exc)

    def cancel(self) -> None:
        with self._lock:
            for *_, fut in self._heap:
                fut.cancel()

    def close(self) -> None:
        """Wait for the jobs that started (cancel first to drop the others)."""
        self._pool.shutdown(wait=True)
