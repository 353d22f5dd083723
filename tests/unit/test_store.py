"""The cache: verify before visible, resume with Range, never keep wrong bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airlock.errors import DigestMismatch
from airlock.net.http import Net
from airlock.store import Store

DATA = bytes(range(256)) * 4000
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def opener_for(handler):
    net = Net(transport=httpx.MockTransport(handler), retries=0, backoff=0)

    def opener(offset: int):
        return net.stream("https://h/blob", what="t", headers={"Range": f"bytes={offset}-"} if offset else {})
    return opener


def test_resume_from_partial_with_range(tmp_path: Path) -> None:
    store = Store(tmp_path)
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / DIGEST.split(":")[1]).write_bytes(DATA[:1000])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Range"))
        return httpx.Response(206, stream=httpx.ByteStream(DATA[1000:]))

    n = store.download(DIGEST, len(DATA), opener_for(handler), what="blob")
    assert seen == ["bytes=1000-"] and n == len(DATA) - 1000
    assert store.read(DIGEST) == DATA and not list((tmp_path / "partial").iterdir())


def test_server_ignoring_range_restarts(tmp_path: Path) -> None:
    store = Store(tmp_path)
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / DIGEST.split(":")[1]).write_bytes(b"garbage")
    store.download(DIGEST, len(DATA), opener_for(lambda r: httpx.Response(200, stream=httpx.ByteStream(DATA))), what="blob")
    assert store.read(DIGEST) == DATA


def test_wrong_bytes_are_never_cached(tmp_path: Path) -> None:
    store = Store(tmp_path)
    bad = DATA[:-1] + b"!"
    with pytest.raises(DigestMismatch, match=f"expected {DIGEST}"):
        store.download(DIGEST, len(DATA), opener_for(lambda r: httpx.Response(200, stream=httpx.ByteStream(bad))), what="file x")
    assert not store.has(DIGEST) and not list((tmp_path / "partial").iterdir())


def test_sha512_is_checked_too(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(DigestMismatch, match="sha512"):
        store.download(DIGEST, len(DATA), opener_for(lambda r: httpx.Response(200, stream=httpx.ByteStream(DATA))), what="file x",
                       sha512="0" * 128)
    store.download(DIGEST, len(DATA), opener_for(lambda r: httpx.Response(200, stream=httpx.ByteStream(DATA))), what="file x",
                   sha512=hashlib.sha512(DATA).hexdigest())
    assert store.has(DIGEST, len(DATA))


def test_concurrent_downloads_of_one_blob_fetch_it_once(tmp_path: Path) -> None:
    import threading

    store = Store(tmp_path)
    requests = []
    gate = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        gate.wait(5)  # hold the first download open so the other threads queue behind its lock
        return httpx.Response(200, stream=httpx.ByteStream(DATA))

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(
        store.download(DIGEST, len(DATA), opener_for(handler), what="blob"))) for _ in range(6)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert len(requests) == 1 and sorted(results) == [0] * 5 + [len(DATA)]
    assert store.read(DIGEST) == DATA
    assert not list((tmp_path / "partial").iterdir()) and not list((tmp_path / "locks").iterdir())


def test_no_space_in_the_cache_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from airlock.errors import DiskFullError

    store = Store(tmp_path)

    class Full:
        def __init__(self, *a: object) -> None:
            pass

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = Path.open

    def fake_open(self: Path, mode: str = "r", *a, **kw):
        f = real_open(self, mode, *a, **kw)
        if "partial" in str(self) and "b" in mode and ("w" in mode or "+" in mode):
            f.write = Full().write  # type: ignore[method-assign]  # the full disk: the one write this test replaces
        return f

    monkeypatch.setattr(Path, "open", fake_open)
    with pytest.raises(DiskFullError, match=f"not enough disk space in {tmp_path / 'partial'} for blob: needs"):
        store.download(DIGEST, len(DATA), opener_for(lambda r: httpx.Response(200, stream=httpx.ByteStream(DATA))),
                       what="blob")


@pytest.mark.parametrize("digest", ["sha256:" + "../" * 21 + "x", "sha256:" + "A" * 64, "sha512:" + "a" * 64,
                                    "sha256:" + "a" * 63, "sha256:" + "a" * 63 + "\u0661"])
def test_digests_that_are_not_plain_hex_never_become_paths(tmp_path: Path, digest: str) -> None:
    from airlock.errors import BadDigest

    with pytest.raises(BadDigest, match="not a sha256 digest"):
        Store(tmp_path).path(digest)
    with pytest.raises(BadDigest):
        Store(tmp_path).download(digest, 1, opener_for(lambda r: httpx.Response(200)), what="x")
    assert not list(tmp_path.rglob("*x"))


class _Dropping(httpx.SyncByteStream):
    """A body sent 4 kB at a time, as reads over a WAN return it, that drops after ``upto`` bytes."""

    def __init__(self, data: bytes, upto: int | None = None):
        self.data, self.upto = data, upto

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(0, len(self.data), 4096):
            if self.upto is not None and i >= self.upto:
                raise httpx.ReadError("connection dropped")
            yield self.data[i:i + 4096]


def test_small_reads_are_written_a_mib_at_a_time_and_a_drop_keeps_what_arrived(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import airlock.store as store_mod

    store = Store(tmp_path)
    seen: list[str | None] = []
    flushes: list[int] = []
    real = store_mod._Sink.flush
    monkeypatch.setattr(store_mod._Sink, "flush", lambda self: flushes.append(len(self.buf)) or real(self))

    def handler(request: httpx.Request) -> httpx.Response:
        rng = request.headers.get("Range")
        seen.append(rng)
        if rng:
            return httpx.Response(206, stream=_Dropping(DATA[int(rng[6:-1]):]))
        return httpx.Response(200, stream=_Dropping(DATA, upto=100 * 4096))

    net = Net(transport=httpx.MockTransport(handler), retries=1, backoff=0)

    def opener(offset: int):  # type: ignore[no-untyped-def]
        return net.stream("https://h/blob", what="t", headers={"Range": f"bytes={offset}-"} if offset else {})

    store.download(DIGEST, len(DATA), opener, what="blob", retries=1)
    assert seen == [None, f"bytes={100 * 4096}-"]  # what arrived before the drop was kept
    assert store.read(DIGEST) == DATA
    assert 0 < len([n for n in flushes if n]) <= 3  # not one write per 4 kB read (250 of them)


@pytest.mark.parametrize("size", [3 << 20, 200_000])
def test_small_reads_in_a_large_body_wait_for_more_to_pile_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             size: int) -> None:
    import airlock.store as store_mod

    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    pauses: list[float] = []
    monkeypatch.setattr(store_mod, "_pause", pauses.append)
    opener = opener_for(lambda r: httpx.Response(200, stream=_Dropping(data)))
    Store(tmp_path).download(digest, size, opener, what="blob")
    if size > store_mod.CHUNK:
        # every 4 kB read that leaves more than the last MiB to come waits once; a small body is read as it comes
        assert len(pauses) == (size - store_mod.CHUNK - 1) // 4096 and set(pauses) == {store_mod.READ_PAUSE}
    else:
        assert pauses == []


class _Breaking(httpx.SyncByteStream):
    """A body that breaks off after ``cut`` bytes, as a dropped connection does."""

    def __init__(self, data: bytes, cut: int, error: Exception):
        self.data, self.cut, self.error = data, cut, error

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[:self.cut]
        raise self.error


def test_a_dropped_connection_is_resumed(tmp_path: Path) -> None:
    ranges = []

    def handler(request: httpx.Request) -> httpx.Response:
        ranges.append(request.headers.get("Range"))
        if len(ranges) == 1:
            return httpx.Response(200, stream=_Breaking(DATA, 5000, httpx.RemoteProtocolError("peer closed")))
        return httpx.Response(206, stream=httpx.ByteStream(DATA[5000:]))

    store = Store(tmp_path)
    store.download(DIGEST, len(DATA), opener_for(handler), what="blob", retries=1)
    assert ranges == [None, "bytes=5000-"] and store.read(DIGEST) == DATA


def test_a_bug_is_not_retried_into_kept_failing(tmp_path: Path) -> None:
    """A TypeError while reading is airlock's bug: it surfaces as itself, on the first attempt."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, stream=_Breaking(DATA, 10, TypeError("bug")))

    with pytest.raises(TypeError, match="bug"):
        Store(tmp_path).download(DIGEST, len(DATA), opener_for(handler), what="blob", retries=3)
    assert len(calls) == 1


def test_digest_mismatch_carries_what_expected_and_got(tmp_path: Path) -> None:
    with pytest.raises(DigestMismatch) as caught:
        Store(tmp_path).put_bytes(DIGEST, b"other", what="blob x")
    err = caught.value
    assert (err.what, err.expected, err.got) == ("blob x", DIGEST, "sha256:" + hashlib.sha256(b"other").hexdigest())
    assert err.message == f"blob x: expected {DIGEST}, got {err.got}"
