from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from airlock.bundle.tarstream import SplitWriter, TarWriter, iter_members, open_bundle
from airlock.errors import BundleError


def write(out: io.BufferedIOBase | SplitWriter, src: Path) -> TarWriter:
    w = TarWriter(out)  # type: ignore[arg-type]  # a SplitWriter is written to like a file
    w.add_bytes("a.json", b"{}\n")
    w.add_dir("blobs")
    w.add_file("blobs/x", src, src.stat().st_size)
    w.close()
    return w


def test_deterministic_ustar_entries(tmp_path: Path) -> None:
    src = tmp_path / "x"
    src.write_bytes(b"x" * 1000)
    a, b = io.BytesIO(), io.BytesIO()
    write(a, src)
    write(b, src)
    assert a.getvalue() == b.getvalue() and len(a.getvalue()) % 10240 == 0
    with tarfile.open(fileobj=io.BytesIO(a.getvalue())) as tar:
        ms = tar.getmembers()
    assert [m.name for m in ms] == ["a.json", "blobs", "blobs/x"]
    assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" and not m.pax_headers for m in ms)
    assert [m.mode for m in ms] == [0o644, 0o755, 0o644]


def test_kernel_copy_path_equals_buffered_path(tmp_path: Path) -> None:
    src = tmp_path / "x"
    src.write_bytes(bytes(range(256)) * 5000)
    buf = io.BytesIO()
    w1 = write(buf, src)
    with (tmp_path / "out.tar").open("wb", buffering=0) as f:
        w2 = write(f, src)  # type: ignore[arg-type]  # an open file is the sink write() takes
    assert (tmp_path / "out.tar").read_bytes() == buf.getvalue()
    assert w1.sha256.hexdigest() == w2.sha256.hexdigest()


def test_split_and_join(tmp_path: Path) -> None:
    src = tmp_path / "x"
    src.write_bytes(b"y" * 50_000)
    whole = io.BytesIO()
    ref = write(whole, src)
    sw = SplitWriter(tmp_path / "b.tar", 7000)
    w = write(sw, src)
    files = sw.commit(w.sha256.hexdigest())
    assert w.sha256.hexdigest() == ref.sha256.hexdigest()
    assert files[-1].name == "b.tar.sha256sums" and len(files) > 3
    with open_bundle(tmp_path / "b.tar") as stream:
        assert stream.read() == whole.getvalue()
    (tmp_path / "b.tar.001").unlink()
    with pytest.raises(BundleError, match="b.tar.001 of the split bundle is missing"):
        open_bundle(tmp_path / "b.tar")


@pytest.mark.parametrize(("name", "kind"), [("../x", "file"), ("/abs", "file"), ("a/../../b", "file"),
                                            ("link", "symlink"), ("dev", "chr")])
def test_unsafe_members_are_refused(name: str, kind: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "chr":
            info.type = tarfile.CHRTYPE
        tar.addfile(info, io.BytesIO(b"") if kind == "file" else None)
    buf.seek(0)
    with pytest.raises(BundleError, match="unsafe path|link or device"):
        list(iter_members(buf, "t.tar"))


def test_tar_size_is_exact(tmp_path: Path) -> None:
    from airlock.bundle.tarstream import tar_size

    for sizes in ([0], [1, 511, 512, 513], [10_000] * 7, []):
        buf = io.BytesIO()
        w = TarWriter(buf)
        w.add_dir("d")
        for i, n in enumerate(sizes):
            w.add_bytes(f"f{i}", b"x" * n)
        w.close()
        assert tar_size(sizes, dirs=1) == len(buf.getvalue())


@pytest.mark.parametrize("err", ["EXDEV", "EINVAL", "ENOSYS", "EOPNOTSUPP"])
def test_kernel_copy_falls_back_to_a_plain_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: str) -> None:
    import errno
    import os

    src = tmp_path / "x"
    src.write_bytes(bytes(range(256)) * 5000)
    ref = io.BytesIO()
    expect = write(ref, src)
    calls = {"n": 0}
    real = os.copy_file_range

    def failing(i: int, o: int, count: int, offset_src: int | None = None, offset_dst: int | None = None) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # copy a little first: the fallback must continue from there
            return real(i, o, 1000, offset_src)
        raise OSError(getattr(errno, err), "no kernel copy here")

    monkeypatch.setattr(os, "copy_file_range", failing)
    with (tmp_path / "out.tar").open("wb", buffering=0) as f:
        got = write(f, src)  # type: ignore[arg-type]  # an open file is the sink write() takes
    assert (tmp_path / "out.tar").read_bytes() == ref.getvalue()
    assert got.sha256.hexdigest() == expect.sha256.hexdigest() and calls["n"] == 2


def test_split_writer_works_in_a_scratch_directory_and_drops_stale_parts(tmp_path: Path) -> None:
    src = tmp_path / "x"
    src.write_bytes(b"y" * 50_000)
    out = tmp_path / "out"
    out.mkdir()
    for i in range(30, 33):  # parts of an earlier, longer split
        (out / f"b.tar.{i:03d}").write_bytes(b"old")
    (out / "b.tar.029").write_bytes(b"old")
    work = tmp_path / "work"
    work.mkdir()
    sw = SplitWriter(out / "b.tar", 7000, workdir=work)
    w = write(sw, src)
    assert not list(out.glob("*.tmp")) and list(work.glob("*.tmp"))
    files = sw.commit(w.sha256.hexdigest())
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files)
    assert list(work.iterdir()) == []


def test_kernel_copy_hashes_in_its_own_thread_when_no_thread_can_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a tight RLIMIT_AS (the tamper suite runs fetch with 1 GiB) a hashing thread may fail to
    start: the copy still happens, hashed in the caller's thread, with the same bytes and digests."""
    import hashlib

    import airlock.bundle.tarstream as ts

    class NoThreads:
        def submit(self, *a: object) -> None:
            raise RuntimeError("can't start new thread")

    src = tmp_path / "x"
    data = bytes(range(256)) * 5000
    src.write_bytes(data)
    with (tmp_path / "ok.tar").open("wb", buffering=0) as f:
        ok = TarWriter(f)  # type: ignore[arg-type]  # an open unbuffered file is a sink
        assert ok.add_file("x", src, len(data), "sha256:" + hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(ts, "_hashers", lambda: NoThreads())
    with (tmp_path / "out.tar").open("wb", buffering=0) as f:
        w = TarWriter(f)  # type: ignore[arg-type]  # as above
        assert w.add_file("x", src, len(data), "sha256:" + hashlib.sha256(data).hexdigest())
    assert (tmp_path / "out.tar").read_bytes() == (tmp_path / "ok.tar").read_bytes()
    assert w.sha256.hexdigest() == ok.sha256.hexdigest()
    with (tmp_path / "bad.tar").open("wb", buffering=0) as f:
        assert not TarWriter(f).add_file("x", src, len(data), "sha256:" + "0" * 64)  # type: ignore[arg-type]
