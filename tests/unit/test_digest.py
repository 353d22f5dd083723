"""Canonical JSON and its sha256: equal documents, equal bytes, whatever the key order."""

from __future__ import annotations

import hashlib

from airlock.digest import canonical_json, canonical_sha256


def test_key_order_and_spacing_do_not_matter() -> None:
    a = {"b": [1, {"y": 2, "x": 1}], "a": "é"}
    b = {"a": "é", "b": [1, {"x": 1, "y": 2}]}
    assert canonical_json(a) == canonical_json(b) == b'{"a":"\\u00e9","b":[1,{"x":1,"y":2}]}'
    assert canonical_sha256(a) == canonical_sha256(b) == hashlib.sha256(canonical_json(a)).hexdigest()
    assert canonical_sha256({"a": 1}) != canonical_sha256({"a": 2})
