"""fetch under concurrency, across filesystems, on a full disk and after kill -9."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_fetch import BODY, airlock, blob_files_ok, resolved
from tests.world.disks import fill, tmpfs
from tests.world.world import World

pytestmark = pytest.mark.integration


def cache_is_clean(cache: Path) -> None:
    """No temp files, no lock files and no partial downloads once every run has finished."""
    assert not list((cache / "blobs" / "sha256").glob(".tmp-*"))
    assert not list((cache / "locks").glob("*")) if (cache / "locks").exists() else True
    assert not list((cache / "partial").glob("*")) if (cache / "partial").exists() else True
    blob_files_ok(cache)


def test_concurrent_fetches_and_resolves_share_one_cache(world: World, tmp_path: Path) -> None:
    lock = resolved(world, tmp_path)
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "AIRLOCK_CACHE": str(cache), "AIRLOCK_BACKOFF": "0.01"}
    procs = [subprocess.Popen([sys.executable, "-m", "airlock", "fetch", "--lock", str(lock), "-o",
                               str(tmp_path / f"b{i}.tar"), "--cache", str(cache), "--concurrency", "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(24)]
    for i in range(3):  # resolves write the cache too (Kubespray trees, parsed YAML, repository metadata)
        m = world.manifest(tmp_path / f"r{i}" / "airlock.yaml", "2.30.0", BODY)
        procs.append(subprocess.Popen([sys.executable, "-m", "airlock", "resolve", "-f", str(m)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    results = [(p.wait(300), p.communicate()[1]) for p in procs]
    failed = [err for rc, err in results if rc != 0]
    assert not failed, failed[0]
    bundles = {(tmp_path / f"b{i}.tar").read_bytes() for i in range(24)}
    assert len(bundles) == 1
    clean = tmp_path / "clean.tar"
    assert airlock("fetch", "--lock", str(lock), "-o", str(clean), cache=tmp_path / "own").returncode == 0
    assert bundles == {clean.read_bytes()}
    assert {(tmp_path / f"r{i}" / "airlock.lock").read_bytes() for i in range(3)} == {lock.read_bytes()}
    cache_is_clean(cache)
    assert not [p.name for p in tmp_path.iterdir() if ".airlock-" in p.name or p.name.endswith(".tmp")]


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_fetch_onto_another_filesystem(world: World, tmp_path: Path, split: bool) -> None:
    lock = resolved(world, tmp_path)
    cache = tmp_path / "cache"
    ref = tmp_path / "ref.tar"
    extra = ["--split", "1MiB"] if split else []
    assert airlock("fetch", "--lock", str(lock), "-o", str(ref), *extra, cache=cache).returncode == 0
    with tmpfs(tmp_path / "mnt", "256m") as mnt:
        res = airlock("fetch", "--lock", str(lock), "-o", str(mnt / "b.tar"), *extra, cache=cache)
        assert res.returncode == 0, res.stderr
        names = sorted(p.name for p in mnt.iterdir())
        assert names == sorted(p.name.replace("ref.tar", "b.tar") for p in tmp_path.glob("ref.tar*"))
        for name in names:
            if not name.endswith(".sha256sums"):
                assert (mnt / name).read_bytes() == (tmp_path / name.replace("b.tar", "ref.tar")).read_bytes()
        assert airlock("verify", str(mnt / "b.tar"), cache=cache).returncode == 0


@pytest.mark.parametrize("where", ["bundle-checked", "bundle-while-writing", "cache-while-downloading"])
def test_full_disk_is_a_clear_error(world: World, tmp_path: Path, where: str) -> None:
    lock = resolved(world, tmp_path)
    warm = tmp_path / "warm"
    ref = tmp_path / "ref.tar"
    assert airlock("fetch", "--lock", str(lock), "-o", str(ref), cache=warm).returncode == 0
    size = ref.stat().st_size
    with tmpfs(tmp_path / "mnt", "64m") as mnt:
        fill(mnt, size // 2)
        before = sorted(p.name for p in mnt.iterdir())
        env = {} if where == "bundle-checked" else {"AIRLOCK_SPACE_CHECK": "0"}
        if where == "cache-while-downloading":
            out, cache, full = tmp_path / "b.tar", mnt / "cache", mnt / "cache"
        else:
            out, cache, full = mnt / "b.tar", warm, mnt
        res = airlock("fetch", "--lock", str(lock), "-o", str(out), cache=cache, env=env)
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr and "internal error" not in res.stderr
        print(res.stderr)  # the message a user sees, in the test log
        assert f"not enough disk space in {full}" in res.stderr and "needs" in res.stderr, res.stderr
        if where != "cache-while-downloading":
            assert sorted(p.name for p in mnt.iterdir()) == before  # nothing half-written
        (mnt / "filler").unlink()
        ok = airlock("fetch", "--lock", str(lock), "-o", str(out), cache=cache)
        assert ok.returncode == 0, ok.stderr
        assert out.read_bytes() == ref.read_bytes()


@pytest.mark.parametrize("point", ["fetch-partial", "fetch-writing", "fetch-split-commit"])
def test_kill_9_then_rerun(world: World, tmp_path: Path, point: str) -> None:
    lock = resolved(world, tmp_path)
    ref_dir, out_dir = tmp_path / "ref", tmp_path / "out"
    ref_dir.mkdir()
    out_dir.mkdir()
    split = ["--split", "1MiB"] if point == "fetch-split-commit" else []
    assert airlock("fetch", "--lock", str(lock), "-o", str(ref_dir / "b.tar"), *split,
                   cache=tmp_path / "ref-cache").returncode == 0
    cache = tmp_path / "cache"
    # Names earlier airlock versions used for temp files, as a killed one would leave them.
    for legacy in (".b.tar.k2j4h5.tmp", "b.tar.000.tmp", "b.tar.sha256sums.tmp"):
        (out_dir / legacy).write_bytes(b"left over")
    killed = airlock("fetch", "--lock", str(lock), "-o", str(out_dir / "b.tar"), *split, cache=cache,
                     env={"AIRLOCK_TEST_KILL": point})
    assert killed.returncode == -9
    if point == "fetch-partial":
        assert list((cache / "partial").iterdir())  # kept, to be resumed
    else:
        assert any(".airlock-" in p.name for p in out_dir.iterdir())
    again = airlock("fetch", "--lock", str(lock), "-o", str(out_dir / "b.tar"), *split, cache=cache)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in ref_dir.iterdir())
    for p in ref_dir.iterdir():
        assert (out_dir / p.name).read_bytes() == p.read_bytes(), p.name
    cache_is_clean(cache)
    assert hashlib.sha256((out_dir / "b.tar.000" if split else out_dir / "b.tar").read_bytes())
