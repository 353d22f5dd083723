"""verify_bundle on hand-made bundles: what it refuses before reading the blobs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from airlock.bundle.model import BundleIndex, Entry
from airlock.bundle.tarstream import SplitWriter, TarWriter
from airlock.bundle.verify import verify_bundle
from airlock.errors import BundleError

LOCK = "a" * 64


def bundle_head(index: BundleIndex) -> bytes:
    buf = io.BytesIO()
    w = TarWriter(buf)
    w.add_bytes("bundle.json", index.dumps())
    return buf.getvalue()


def index() -> BundleIndex:
    return BundleIndex(lock_sha256=LOCK, entries=[Entry(path="airlock.lock", digest="sha256:" + LOCK, size=5,
                                                        kind="lock")])


def test_another_lock_is_refused_before_anything_else_is_read(tmp_path: Path) -> None:
    path = tmp_path / "b.tar"
    path.write_bytes(bundle_head(index()) + b"garbage that is no tar header" * 100)
    with pytest.raises(BundleError, match=f"lock is sha256 {LOCK}, not the expected {'b' * 64}"):
        verify_bundle(path, expect_lock="b" * 64)
    with pytest.raises(BundleError, match="checksum"):  # without the pin, the damage is what is reported
        verify_bundle(path)


def test_a_split_bundle_of_another_lock_is_refused_without_reading_every_part(tmp_path: Path) -> None:
    data = bundle_head(index()) + bytes(50_000)
    w = SplitWriter(tmp_path / "b.tar", 2048)
    w.write(data)
    w.commit("0" * 64)  # the whole digest is wrong: only reading to the end would notice
    with pytest.raises(BundleError, match="not the expected"):
        verify_bundle(tmp_path / "b.tar", expect_lock="b" * 64)
    with pytest.raises(BundleError, match="do not join to the sha256"):
        verify_bundle(tmp_path / "b.tar", expect_lock=LOCK)


def test_members_must_follow_bundle_json_then_the_lock(tmp_path: Path) -> None:
    buf = io.BytesIO()
    w = TarWriter(buf)
    idx = BundleIndex(lock_sha256=LOCK, entries=[*index().entries,
                                                 Entry(path="oci-layout", digest="sha256:" + "c" * 64, size=2,
                                                       kind="layout")])
    w.add_bytes("bundle.json", idx.dumps())
    w.add_bytes("oci-layout", b"{}")
    w.close()
    (tmp_path / "b.tar").write_bytes(buf.getvalue())
    with pytest.raises(BundleError, match="'oci-layout' comes before airlock.lock"):
        verify_bundle(tmp_path / "b.tar")
