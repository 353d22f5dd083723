"""The exception tree of airlock: every error class lives here, so one file shows them all.

Every error a user can cause or fix is an :class:`AirlockError`. The CLI's single
error boundary (``airlock.cli.main``) prints ``error: <where>: <message>`` plus a
``hint:`` line and exits with ``exit_code`` (2 unless stated), never a traceback.

AirlockError                    exit 2; message, hint, where
├── UsageError                  bad flags or arguments
├── ManifestError               airlock.yaml cannot be read or is invalid (carries file:line)
├── LockError                   airlock.lock is missing, malformed, of an unknown version or inconsistent
├── BundleError                 a bundle is unreadable, incomplete, tampered with or unsafe
├── UnsafePathError             a path from untrusted input would leave its directory
├── BadDigest                   a digest that is not sha256:<64 lowercase hex> (it would become a file name)
├── ReferenceError              a string that is not an image reference (also a ValueError, for pydantic)
├── KubesprayError              the Kubespray source is missing, unreadable or incomplete
│   └── EvaluationError         a Kubespray variable failed to evaluate (carries the variable path)
├── IncompleteSiteError         offline.yml would still make Kubespray download something the site lacks
├── SignatureError              a repository's Release is unsigned, or not signed by its pinned key
├── UnsatisfiableError          OS packages cannot be installed from the repositories
├── WheelResolutionError        Python requirements cannot be satisfied for the target
├── CorruptCache                cached blobs no longer match their names (removed; rerun fetch)
├── NetworkError                an upstream could not be reached or answered wrongly
│   ├── DigestMismatch          bytes differ from their pin; what, expected, got, url
│   ├── RegistryError           a registry answered, but not with what the image needs
│   ├── CredentialHelperError   a docker credential helper is missing or failed
│   ├── MetadataError           repository metadata is missing, unreadable or fails its checksum
│   └── UnusableUpstreamValue   an upstream's metadata holds a value the lock must not hold
└── DiskFullError               a filesystem airlock writes to is (or would be) full

BadRequest (outside the tree)   `airlock serve`: one HTTP request gets a status code and a closed
                                connection; it never reaches the CLI's error boundary
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


class LockError(AirlockError):
    """airlock.lock is missing, malformed, of an unknown version, or inconsistent."""


class BundleError(AirlockError):
    """A bundle is unreadable, incomplete, tampered with or unsafe."""


class UnsafePathError(AirlockError):
    """A path computed from untrusted input would leave the directory it belongs in."""


class BadDigest(AirlockError):
    """A digest (from a lock, a manifest or a registry) that is not ``sha256:<64 lowercase hex>``."""


class ReferenceError(AirlockError, ValueError):  # shadows the builtin in this module only (never raised there)
    """A string that is not an image reference (a ValueError too, so pydantic reports it on its field)."""


class KubesprayError(AirlockError):
    """The Kubespray source tree is missing files airlock needs, or cannot be fetched."""


class EvaluationError(KubesprayError):
    """A Kubespray variable could not be evaluated (undefined variable, unknown filter...)."""


class IncompleteSiteError(AirlockError):
    """Kubespray, with offline.yml applied, would still download something the site does not serve."""


class SignatureError(AirlockError):
    """A repository's Release is unsigned, or not signed by the repository's pinned key."""


class UnsatisfiableError(AirlockError):
    """The package set cannot be installed from the repositories (names package, arch, capability)."""


class WheelResolutionError(AirlockError):
    """The Python requirements cannot be satisfied for the target (names the conflict chain)."""


class CorruptCache(AirlockError):
    """Cached blobs whose bytes no longer match their names (``bad``), or, with ``bad`` empty, a
    bundle stream that differs from the one recorded for its index (some cached blob changed)."""

    def __init__(self, bad: list[str]):
        super().__init__(f"{len(bad) or 'some'} cached blob(s) no longer match their digests"
                         + (f": {', '.join(bad[:5])}" if bad else ""),
                         hint="rerun `airlock fetch`: the damaged blobs were removed from the cache")
        self.bad = bad


class NetworkError(AirlockError):
    """An upstream server could not be reached or returned an unusable answer."""


class DigestMismatch(NetworkError):
    """Bytes (downloaded, served or handed over) do not match the digest pinned for them by the lock,
    by Kubespray or by airlock.yaml. ``expected`` and ``got`` are what a caller re-words a message
    from, so no one parses the message text."""

    def __init__(self, message: str, *, what: str, expected: str, got: str, url: str | None = None,
                 hint: str | None = None):
        super().__init__(message, hint=hint)
        self.what, self.expected, self.got, self.url = what, expected, got, url


class RegistryError(NetworkError):
    """A registry answered, but not with what the image needs (unknown tag, auth, bad digest)."""


class CredentialHelperError(NetworkError):
    """A docker credential helper named in a config file is missing or failed."""


class MetadataError(NetworkError):
    """Repository metadata is missing, unreadable or does not match its checksum."""


class UnusableUpstreamValue(NetworkError):
    """An upstream (or a mirror) answered with a value the lock must not hold, e.g. a package
    named ``../x``: refused as that upstream's answer, not a crash of the resolver."""


class DiskFullError(AirlockError):
    """Not enough space (or quota) to write a bundle, a cache blob or a site; names the path and the need."""


class BadRequest(Exception):
    """`airlock serve`: a request that gets ``code`` and a closed connection. Not an AirlockError:
    it ends one connection, never the server, and never reaches the CLI."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason
