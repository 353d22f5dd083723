"""Version comparison as Ansible's ``version`` test does it by default (distutils LooseVersion)."""

from __future__ import annotations

import functools
import re

_COMPONENT = re.compile(r"(\d+ | [a-z]+ | \.)", re.VERBOSE)


def loose_parts(version: str) -> list[int | str]:
    parts: list[int | str] = []
    for chunk in _COMPONENT.split(version):
        if not chunk or chunk == ".":
            continue
        parts.append(int(chunk) if chunk.isdigit() else chunk)
    return parts


@functools.lru_cache(maxsize=4096)
def _parts(version: str) -> tuple[int | str, ...]:
    # Kubespray tests the same few versions against each checksum key thousands of times per plan.
    # A tuple (immutable, so safe to share) compares element by element exactly like the list.
    return tuple(loose_parts(version))


def compare_loose(a: str, b: str) -> int:
    """-1, 0 or 1 like LooseVersion; mixing a number and a word at one position is an error, as there."""
    pa, pb = _parts(a), _parts(b)
    try:
        return (pa > pb) - (pa < pb)
    except TypeError:
        raise ValueError(f"cannot compare versions {a!r} and {b!r}") from None
