"""Which bytes a Range header asks for (RFC 9110 14): one satisfiable range, the whole file, or 416."""

from __future__ import annotations

import pytest

from airlock.server.protocol import Request
from airlock.server.site import _range


def get(range_value: str | None, method: str = "GET", **extra: str) -> Request:
    headers = {k: [v] for k, v in extra.items()}
    if range_value is not None:
        headers["range"] = [range_value]
    return Request(method, "/files/x", "/files/x", (1, 1), headers)


@pytest.mark.parametrize(("value", "expect"), [
    ("bytes=0-9", (0, 10)),
    ("bytes=90-", (90, 10)),
    ("bytes=90-1000", (90, 10)),          # the end is clipped to the file
    ("bytes=-5", (95, 5)),                # the last 5 bytes
    ("bytes=-500", (0, 100)),
    ("BYTES=1-1", (1, 1)),                # the unit is case-insensitive
    ("bytes=100-", "unsatisfiable"),
    ("bytes=-0", "unsatisfiable"),
    ("bytes=5-1", None),                  # invalid: ignored, the whole file is sent
    ("bytes=0-1,5-6", None),              # several ranges: ignored
    ("items=0-1", None),
    ("bytes=x-y", None),
    (None, None),
])
def test_range(value: str | None, expect: object) -> None:
    assert _range(get(value), 100) == expect


def test_range_is_ignored_for_head_and_with_if_range() -> None:
    assert _range(get("bytes=0-9", method="HEAD"), 100) is None
    assert _range(get("bytes=0-9", **{"if-range": '"etag"'}), 100) is None


def test_an_empty_file_has_no_suffix_range() -> None:
    assert _range(get("bytes=-1"), 0) == "unsatisfiable"
