"""Progress on a TTY (rich), silence otherwise: logs stay clean in CI."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "Progress":
        if self.enabled:
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
            self._bar.__exit__(*exc)  # type: ignore[arg-type]
