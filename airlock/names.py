"""Names from untrusted input (a lock, a manifest, a bundle) that become paths, and the one place
that checks them.

A lock is untrusted until verified, and even a verified bundle only proves the lock is internally
consistent, not that its author was friendly. So every field that ends up in a path under the site
directory is checked by the model that reads it (``SafeName``, ``SafeRelPath``; image references by
:mod:`airlock.reference`),
and the code that joins paths checks again (:func:`inside`) that the result stays in the directory.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import AfterValidator, WithJsonSchema

from airlock.errors import UnsafePathError

_V = TypeVar("_V")

MAX_NAME_BYTES = 255      # one path component on Linux filesystems
MAX_PATH_BYTES = 1024     # far above any real download path, far below PATH_MAX

# Registry names: [domain[:port]][/path-component...] (the OCI distribution grammar's parts).
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?)"
_COMPONENT = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"


def _bad_char(value: str) -> str | None:
    for ch in value:
        if ch in "/\\" or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            return ch
    return None


_REGISTRY = re.compile(rf"^(?:{_DOMAIN}|\[[0-9A-Fa-f:.]+\](?::[0-9]+)?)(?:/{_COMPONENT})*$")


def check_registry(value: str) -> str:
    """``host[:port][/prefix...]``: where images are pushed and what nodes pull from."""
    if has_credentials(value):
        raise ValueError("it carries a user or password")
    port = value.split("/", 1)[0].rsplit("]", 1)[-1].rpartition(":")[2] if ":" in value.split("/", 1)[0] else ""
    if len(value) > MAX_PATH_BYTES or not _REGISTRY.match(value) or (port and not 0 < int(port) < 65536):
        raise ValueError(f"{redact(value)!r} is not REGISTRY[:PORT][/PREFIX] (lowercase prefix, port 1-65535)")
    return value


def redact(url: str) -> str:
    """``url`` with everything between its scheme and its last ``@`` replaced by ``***``: for messages
    about an address that may hold a password (even a malformed one: the secret is never printed)."""
    if "@" not in url:
        return url
    m = _SCHEME.match(url)
    scheme = (m.group(1) if m else None) or ""
    return f"{scheme}***@{url.rsplit('@', 1)[1]}"


def check_name(value: str) -> str:
    """One path component: not empty, not ``.``/``..``, no separator, whitespace or control character."""
    if not value or value in (".", ".."):
        raise ValueError(f"{value!r} is not a usable file name")
    bad = _bad_char(value)
    if bad is not None:
        raise ValueError(f"{value!r} contains {bad!r}; a name must be one path component without "
                         "separators, whitespace or control characters")
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(f"{value[:40]!r}... is longer than {MAX_NAME_BYTES} bytes")
    return value


def check_rel_path(value: str) -> str:
    """A relative path of ``/``-separated :func:`check_name` components (no ``..``, no empty part)."""
    if value.startswith("/"):
        raise ValueError(f"{value!r} is absolute; a relative path is needed")
    if len(value.encode("utf-8")) > MAX_PATH_BYTES:
        raise ValueError(f"{value[:40]!r}... is longer than {MAX_PATH_BYTES} bytes")
    for part in value.split("/"):
        try:
            check_name(part)
        except ValueError:
            raise ValueError(f"{value!r} is not a safe relative path (component {part!r}: no empty, "
                             "'.' or '..' components, separators, whitespace or control characters)") from None
    return value


# The JSON schema patterns document the rule for other tools; the validators above are the rule.
_NAME_PATTERN = r"^(?!\.\.?$)[^/\\\s\x00-\x1f\x7f]{1,255}$"
_PATH_PATTERN = r"^(?!/)((?!\.\.?(/|$))[^/\\\s\x00-\x1f\x7f]+/)*(?!\.\.?$)[^/\\\s\x00-\x1f\x7f]+$"
SafeName = Annotated[str, AfterValidator(check_name),
                     WithJsonSchema({"type": "string", "pattern": _NAME_PATTERN,
                                     "description": "one path component: no separators, '.', '..' or whitespace"})]
SafeRelPath = Annotated[str, AfterValidator(check_rel_path),
                        WithJsonSchema({"type": "string", "pattern": _PATH_PATTERN,
                                        "description": "a relative path without '.', '..' or empty components"})]


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?(.*)$", re.DOTALL)


def has_credentials(url: str) -> bool:
    """True when ``url`` (``scheme://user:pass@host/...`` or ``user:pass@host/...``) carries a user or password."""
    m = _SCHEME.match(url)
    rest = m.group(2) if m else url
    return "@" in rest.split("/", 1)[0]


def url_basename(url: str) -> str:
    """The last path segment of a URL (what a package is called in the site)."""
    return url.rsplit("/", 1)[-1]


def safe_rel(rel: str, where: str = "the site") -> str:
    """``rel`` when it is a relative path that cannot leave the directory it is joined to, lexically."""
    try:
        return check_rel_path(rel)
    except ValueError as exc:
        raise UnsafePathError(f"refusing to write {rel!r}: {exc}", where=where,
                              hint="the lock or bundle is damaged or hostile; do not use it") from None


def safe_paths(paths: dict[str, _V], where: str = "the site") -> dict[str, _V]:
    """``paths`` (relative path -> content) after :func:`safe_rel` of every key."""
    for rel in paths:
        safe_rel(rel, where)
    return paths


def inside(root: Path, rel: str) -> Path:
    """``root / rel``, refused unless it stays inside ``root`` once symlinks are resolved."""
    safe_rel(rel, str(root))
    base = root.resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise UnsafePathError(f"refusing to write {rel!r}: it resolves to {target}, outside the directory",
                              where=str(root), hint="remove the symlink that leads out of the directory, "
                                                    "or use a fresh directory")
    return base / rel
