"""Progress on a TTY (rich), silence otherwise: logs stay clean in CI."""

from __future__ import annotations

import sys
import threading
from typing import Any


class Progress:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            # lazy: rich.progress takes ~40 ms to import; a bar is drawn only on a terminal
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("resolving", total=None)
        return self

    def advance(self, kind: str, key: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=f"{kind} {key[-60:]}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


class ByteProgress:
    """Fetch progress: a byte bar on a TTY (total, rate, current artifact), plain lines otherwise."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

        self._lock = threading.Lock()

    def __enter__(self) -> "ByteProgress":
        return self

    def start(self, total: int, count: int) -> None:
        if self.tty:
            # lazy: rich.progress takes ~40 ms to import; a bar is drawn only on a terminal
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(f"fetching {count} blobs", total=total or None)
        elif self.enabled and count:
            print(f"fetching {count} blobs ({total} bytes)", file=sys.stderr, flush=True)

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=n)

    def done(self, kind: str, what: str, size: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"{what[-50:]}")
        elif self.enabled:
            with self._lock:
                print(f"fetched {kind} for {what} ({size} bytes)", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
