"""parallel.cap_malloc_arenas: glibc takes the setting (the tamper tests prove what it is for: a
fetch under ``ulimit -v 1G``, which failed with MemoryError when its threads each got an arena)."""

from __future__ import annotations

import platform

import pytest

from airlock.parallel import cap_malloc_arenas, run_all


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_glibc_takes_the_arena_cap() -> None:
    assert cap_malloc_arenas() is True


def test_run_all_keeps_order_and_raises_the_first_failure() -> None:
    assert run_all([lambda i=i: i * i for i in range(20)], 4) == [i * i for i in range(20)]

    def boom() -> None:
        raise ValueError("first")

    with pytest.raises(ValueError, match="first"):
        run_all([boom, lambda: 1], 2)
