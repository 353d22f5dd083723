"""Bounded parallelism: run calls on a thread pool; the first failure cancels what has not started."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


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
