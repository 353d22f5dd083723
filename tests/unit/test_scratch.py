"""Scratch entries: a live run's are never swept, a dead run's are; disk-space arithmetic and messages."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from airlock.apply.swap import is_leftover_temp
from airlock.errors import DiskFullError
from airlock.scratch import (
    disk_full,
    fresh_dir,
    fresh_file,
    is_no_space,
    replacing_locked,
    require_space,
    scratch_dir,
    scratch_file,
    sweep,
    write_atomic,
    write_output,
)


def test_sweep_keeps_live_entries_and_removes_dead_ones(tmp_path: Path) -> None:
    live_dir = scratch_dir(tmp_path, ".x.airlock-")
    live_file = scratch_file(tmp_path, ".tmp-")
    (live_dir.path / "part").write_bytes(b"data")
    dead = tmp_path / ".x.airlock-dead"  # what a killed run leaves: nobody holds its lock
    dead.mkdir()
    (dead / "part").write_bytes(b"data")
    stale = tmp_path / ".tmp-stale"
    stale.write_bytes(b"x")
    assert sweep(sorted(tmp_path.iterdir())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live_dir.path.name, live_file.path.name])
    live_dir.remove()
    live_file.remove()
    assert list(tmp_path.iterdir()) == []


def test_a_killed_process_releases_its_entries(tmp_path: Path) -> None:
    code = ("import sys, os, signal; from pathlib import Path; from airlock.scratch import scratch_dir;"
            "s = scratch_dir(Path(sys.argv[1]), '.b.tar.airlock-'); print(s.path, flush=True);"
            "os.kill(os.getpid(), signal.SIGKILL)")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert res.returncode == -9
    left = Path(res.stdout.strip())
    assert left.is_dir()
    assert sweep([left]) == 1 and not left.exists()


def test_an_entry_swept_before_it_was_locked_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_flock = fcntl.flock
    calls = {"n": 0}

    def racing_flock(fd: int, op: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # a sweeper wins the race for the first name
            sweep(sorted(tmp_path.iterdir()))
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", racing_flock)
    s = scratch_dir(tmp_path, ".x.airlock-")
    assert s.path.is_dir() and calls["n"] >= 2
    s.remove()


def test_space_check_names_path_and_need(tmp_path: Path) -> None:
    with pytest.raises(DiskFullError, match=f"not enough disk space in {tmp_path} for the bundle b.tar: needs"):
        require_space(tmp_path, 1 << 62, "the bundle b.tar")
    require_space(tmp_path, 1, "a byte")
    err = disk_full(tmp_path / "missing" / "deeper", 5 << 20, "x")
    assert "needs 5.0 MiB" in err.message and err.exit_code == 2 and err.hint
    assert is_no_space(OSError(errno.ENOSPC, "full")) and is_no_space(OSError(errno.EDQUOT, "quota"))
    assert not is_no_space(OSError(errno.EACCES, "denied"))


def test_threads_exclude_each_other_through_blob_locks(tmp_path: Path) -> None:
    from airlock.store import Store

    store = Store(tmp_path)
    inside = []
    overlap = []

    def worker() -> None:
        for _ in range(50):
            with store._blob_lock("ab" * 32):
                inside.append(1)
                if len(inside) > 1:
                    overlap.append(1)
                inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlap and not list((tmp_path / "locks").iterdir())


def test_fresh_file_sweeps_dead_leftovers_and_keeps_live_ones(tmp_path: Path) -> None:
    dead = tmp_path / ".part-dead"
    dead.write_bytes(b"left by a killed resolve")
    live = scratch_file(tmp_path, ".part-")  # another run, still going: it holds the lock
    part = fresh_file(tmp_path)
    try:
        assert not dead.exists()
        assert live.path.exists() and part.path.exists() and part.path != live.path
    finally:
        part.remove()
        live.remove()
    assert list(tmp_path.iterdir()) == []


def test_fresh_dir_renamed_into_place_keeps_the_result(tmp_path: Path) -> None:
    (tmp_path / ".unpack-old").mkdir()
    d = fresh_dir(tmp_path, ".unpack-")
    (d.path / "f").write_text("x")
    os.replace(d.path, tmp_path / "tree")
    d.remove()  # only drops the lock now
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]
    assert (tmp_path / "tree" / "f").read_text() == "x"


def test_write_atomic_replaces_whole_or_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sub" / "out.txt"
    write_atomic(target, b"one", mode=0o644)
    assert target.read_bytes() == b"one" and (target.stat().st_mode & 0o777) == 0o644

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("airlock.scratch.os.replace", fail)
    with pytest.raises(OSError):
        write_atomic(target, b"two")
    assert target.read_bytes() == b"one"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]  # no temp file left behind


def test_a_temp_without_suffix_is_one_apply_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "index.html"
    target.write_bytes(b"old")
    left: list[Path] = []

    def die(src: str, dst: object) -> None:  # keep a copy of the temp, as a kill before the rename would
        left.append(Path(src))
        os.link(src, str(src) + ".kept")
        raise OSError(errno.EIO, "killed")

    monkeypatch.setattr("airlock.scratch.os.replace", die)
    with pytest.raises(OSError):
        write_atomic(target, b"new", mode=0o644, suffix="")
    kept = Path(str(left[0]) + ".kept")
    stray = kept.rename(left[0])
    assert is_leftover_temp(stray) and not is_leftover_temp(target)


def test_write_output_looks_like_a_plain_write(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        fresh = tmp_path / "new.txt"
        write_output(fresh, b"a")
        assert fresh.read_bytes() == b"a" and (fresh.stat().st_mode & 0o777) == 0o640
    finally:
        os.umask(old)
    kept = tmp_path / "kept.txt"
    kept.write_bytes(b"old")
    kept.chmod(0o604)
    link = tmp_path / "link.txt"
    link.symlink_to(kept.name)
    write_output(link, b"b")
    assert link.is_symlink() and kept.read_bytes() == b"b" and (kept.stat().st_mode & 0o777) == 0o604
    fifo = tmp_path / "pipe"  # like -o /dev/stdout: no directory entry to replace
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, b"c")
    reader.join()
    assert got == [b"c"] and stat.S_ISFIFO(fifo.stat().st_mode)
    with pytest.raises(FileNotFoundError):  # a missing directory is the user's mistake, not created for them
        write_output(tmp_path / "missing" / "x.txt", b"d")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt", "link.txt", "new.txt", "pipe"]


def test_replacing_locked_renames_on_success_and_removes_on_error(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "blob"
    with replacing_locked(target) as f:
        f.write(b"x")
        (part,) = [p for p in target.parent.iterdir() if p.name.startswith(".part-")]
        assert sweep([part]) == 0  # locked while the block runs: a concurrent run keeps it
    assert target.read_bytes() == b"x" and [p.name for p in target.parent.iterdir()] == ["blob"]
    with pytest.raises(ValueError), replacing_locked(target) as f:
        f.write(b"half")
        raise ValueError("checksum mismatch")
    assert target.read_bytes() == b"x" and [p.name for p in target.parent.iterdir()] == ["blob"]
