"""The exception tree of airlock.

Every error a user can cause or fix is an :class:`AirlockError`. The CLI's single
error boundary (``airlock.cli.main``) prints ``error: <where>: <message>`` plus a
``hint:`` line and exits with ``exit_code`` (2 unless stated), never a traceback.

AirlockError
├── UsageError            bad flags or arguments
├── ManifestError         airlock.yaml cannot be read or is invalid (carries file:line)
├── KubesprayError        the Kubespray source is missing, unreadable or incomplete
│   └── EvaluationError   a Kubespray variable failed to evaluate (carries the variable path)
├── NetworkError          an upstream could not be reached or answered wrongly
└── DiskFullError         a filesystem airlock writes to is (or would be) full
"""

from __future__ import annotations


class AirlockError(Exception):
    """Base of every error airlock reports to a user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def render(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        text = f"error: {head}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class UsageError(AirlockError):
    """A command-line flag or argument is wrong."""


class ManifestError(AirlockError):
    """airlock.yaml is malformed, has unknown keys, wrong types or unknown values."""


class KubesprayError(AirlockError):
    """The Kubespray source tree is missing files airlock needs, or cannot be fetched."""


class EvaluationError(KubesprayError):
    """A Kubespray variable could not be evaluated (undefined variable, unknown filter...)."""


class NetworkError(AirlockError):
    """An upstream server could not be reached or returned an unusable answer."""


class DiskFullError(AirlockError):
    """Not enough space (or quota) to write a bundle, a cache blob or a site; names the path and the need."""
