"""Debian version ordering (Debian Policy 5.6.12) and its translation into a libsolv RPM pool.

The libsolv Python wheel is built without multi-semantics: ``Pool.setdisttype(DISTTYPE_DEB)`` is refused and
versions are compared with RPM's rules, which order ``+``, ``~`` and letters differently from dpkg. Rather than
depend on how libsolv was built, every Debian version of a solve is replaced by its rank among all versions the
solve mentions (package versions and the versions in dependencies): ranks are plain integers, which RPM's
comparison orders numerically, so the pool orders exactly as dpkg does.
"""

from __future__ import annotations

from collections.abc import Iterable

_Part = tuple[tuple[int, ...], int]
_END: _Part = ((0,), 0)


def _order(c: str) -> int:
    """dpkg's character weight in the non-digit parts: ``~`` before everything, even the end; letters before
    other symbols."""
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _fragment_key(s: str) -> tuple[_Part, ...]:
    """Alternating (non-digit run, number) pairs; the end of the string weighs 0 and numbers lose leading zeros,
    so trailing empty pairs are dropped and one end marker closes every key (``1.0`` == ``1.00``, ``""`` ==
    ``"0"``)."""
    parts: list[_Part] = []
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and not s[j].isdigit():
            j += 1
        k = j
        while k < len(s) and s[k].isdigit():
            k += 1
        parts.append((tuple(_order(c) for c in s[i:j]) + (0,), int(s[j:k] or "0")))
        i = k
    while parts and parts[-1] == _END:
        parts.pop()
    return (*parts, _END)


def version_key(version: str) -> tuple[int, tuple[_Part, ...], tuple[_Part, ...]]:
    """A sort key ordering Debian versions as dpkg does: epoch, upstream version, Debian revision."""
    epoch, sep, rest = version.partition(":")
    if not sep:
        epoch, rest = "0", version
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return (int(epoch) if epoch.isdigit() else 0, _fragment_key(upstream), _fragment_key(revision))


def compare(a: str, b: str) -> int:
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)


def ranks(versions: Iterable[str]) -> dict[str, str]:
    """Version -> a decimal rank string; equal versions (``1.0``, ``0:1.0-0``) share a rank."""
    keyed = sorted({(version_key(v), v) for v in versions})
    out: dict[str, str] = {}
    rank, last = 0, None
    for key, v in keyed:
        if key != last:
            rank, last = rank + 1, key
        out[v] = str(rank)
    return out
