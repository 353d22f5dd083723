"""airlock fetch / verify / inspect against the test world."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from airlock.lockfile import read_lock
from tests.helpers import airlock as run_airlock
from tests.world.faults import FaultProxy
from tests.world.world import World

pytestmark = pytest.mark.integration
BODY = ("arch: [amd64, arm64]\nimages: [ghcr.io/airlock-test/multi:2.0]\n")


def airlock(*args: str, cache: Path, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    return run_airlock(*args, cache=cache, env=env, timeout=timeout)


def resolved(world: World, tmp_path: Path, body: str = BODY, **kw: str) -> Path:
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", body, **kw)
    res = airlock("resolve", "-f", str(manifest), cache=tmp_path / "resolve-cache")
    assert res.returncode == 0, res.stderr
    return tmp_path / "airlock.lock"


def blob_files_ok(cache: Path) -> None:
    """The cache never holds a blob whose name is not its digest."""
    for p in (cache / "blobs" / "sha256").glob("*"):
        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, f"bad blob in cache: {p.name}"


def test_same_lock_same_bytes_and_a_usable_layout(world: World, tmp_path: Path) -> None:
    lock = resolved(world, tmp_path)
    a = airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "a.tar"), cache=tmp_path / "c1")
    b = airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "b.tar"), "--concurrency", "2", cache=tmp_path / "c2")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    data = (tmp_path / "a.tar").read_bytes()
    assert data == (tmp_path / "b.tar").read_bytes()
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in a.stdout
    with tarfile.open(tmp_path / "a.tar") as tar:
        members = tar.getmembers()
        assert [m.name for m in members[:5]] == ["bundle.json", "airlock.lock", "airlock.yaml", "oci-layout",
                                                 "index.json"]
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == "" for m in members)
        assert not any(m.pax_headers for m in members)
        tar.extractall(tmp_path / "x", filter="data")
    x = tmp_path / "x"
    for p in (x / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name
    lk = read_lock(lock)
    index = json.loads((x / "index.json").read_text())
    refs = {d["annotations"]["org.opencontainers.image.ref.name"]: d for d in index["manifests"]}
    assert set(refs) == {i.ref for i in lk.image}
    for img in lk.image:
        assert refs[img.ref]["digest"] == img.target_digest
        for p in img.platforms:
            assert (x / "blobs" / "sha256" / p.digest.split(":")[1]).is_file()
        if img.target_media_type.startswith("application/vnd.oci"):
            out = subprocess.run(["skopeo", "inspect", f"oci:{x}:{img.ref}"], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            assert json.loads(out.stdout)["Digest"] in {img.target_digest, img.platforms[0].digest}
    assert any(i.media_type.startswith("application/vnd.docker") for i in lk.image)
    assert read_lock(x / "airlock.lock") == lk
    for f in lk.file:
        assert (x / "blobs" / "sha256" / f.sha256).stat().st_size == f.size
    v = airlock("verify", str(tmp_path / "a.tar"), cache=tmp_path / "c1")
    assert v.returncode == 0 and "OK" in v.stdout
    ins = json.loads(airlock("inspect", str(tmp_path / "a.tar"), "--json", cache=tmp_path / "c1").stdout)
    assert ins["by_kind"]["file"]["count"] == len(lk.file) and len(ins["images"]) == len(lk.image)


def test_warm_fetch_needs_no_network(world: World, tmp_path: Path, dead_url: str) -> None:
    lock = resolved(world, tmp_path)
    cache = tmp_path / "cache"
    assert airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "a.tar"), cache=cache).returncode == 0
    dead = dead_url
    overrides = [f"--mirror={k}={dead}/x" for k in world.mirrors()]
    warm = airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "b.tar"), "--json", *overrides, cache=cache)
    assert warm.returncode == 0, warm.stderr
    assert json.loads(warm.stdout)["downloaded_bytes"] == 0
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_split_parts_are_rejoined_and_checked(world: World, tmp_path: Path) -> None:
    lock = resolved(world, tmp_path)
    res = airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "b.tar"), "--split", "1MiB",
                  cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    parts = sorted(tmp_path.glob("b.tar.0*"))
    assert len(parts) >= 2 and all(p.stat().st_size <= 1 << 20 for p in parts)  # 1 MiB: the smallest --split
    whole = b"".join(p.read_bytes() for p in parts)
    assert f"{hashlib.sha256(whole).hexdigest()}  b.tar" in (tmp_path / "b.tar.sha256sums").read_text()
    assert airlock("verify", str(tmp_path / "b.tar"), cache=tmp_path / "c").returncode == 0
    raw = bytearray(parts[1].read_bytes())
    raw[100] ^= 1
    parts[1].write_bytes(bytes(raw))
    bad = airlock("verify", str(tmp_path / "b.tar"), cache=tmp_path / "c")
    assert bad.returncode == 2 and parts[1].name in bad.stderr


def test_delta_bundle_holds_only_new_blobs(world: World, tmp_path: Path) -> None:
    old = resolved(world, tmp_path / "old", "arch: [amd64, arm64]\n")
    new = resolved(world, tmp_path / "new", BODY + "addons: [argocd]\n")
    cache = tmp_path / "c"
    full = airlock("fetch", "--lock", str(new), "-o", str(tmp_path / "full.tar"), "--json", cache=cache)
    delta = airlock("fetch", "--lock", str(new), "-o", str(tmp_path / "delta.tar"), "--base", str(old), "--json",
                    cache=cache)
    assert full.returncode == 0 and delta.returncode == 0, delta.stderr
    assert json.loads(delta.stdout)["blobs"] < json.loads(full.stdout)["blobs"]
    with tarfile.open(tmp_path / "delta.tar") as tar:
        index = json.load(tar.extractfile("bundle.json"))  # type: ignore[arg-type]  # bundle.json is a regular member: extractfile gives a file
    assert index["base_lock_sha256"] == hashlib.sha256(old.read_bytes()).hexdigest()
    served = {s for e in index["entries"] for s in e["serves"]}
    assert "file:argocd_install:noarch" in served and "image:ghcr.io/airlock-test/multi:2.0" in served
    assert "file:kubelet:amd64" not in served
    v = airlock("verify", str(tmp_path / "delta.tar"), cache=cache)
    assert v.returncode == 0 and "delta of lock" in v.stdout


def _rewrite(src: Path, dst: Path, edit) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isreg() else None  # type: ignore[union-attr]  # a regular member: extractfile gives a file
            for m2, d2 in edit(m, data):
                tout.addfile(m2, io.BytesIO(d2) if d2 is not None else None)


@pytest.mark.parametrize("attack", ["tampered", "unlisted", "symlink", "traversal", "truncated"])
def test_verify_rejects_bad_bundles(world: World, tmp_path: Path, attack: str) -> None:
    lock = resolved(world, tmp_path)
    good = tmp_path / "good.tar"
    assert airlock("fetch", "--lock", str(lock), "-o", str(good), cache=tmp_path / "c").returncode == 0
    bad = tmp_path / "bad.tar"
    first_blob = {"done": False}

    def edit(m: tarfile.TarInfo, data: bytes | None):
        yield m, data
        if m.name == "index.json" and attack in ("unlisted", "symlink", "traversal"):
            extra = tarfile.TarInfo({"unlisted": "notes.txt", "symlink": "blobs/link", "traversal": "../evil"}[attack])
            if attack == "symlink":
                extra.type, extra.linkname = tarfile.SYMTYPE, "/etc/passwd"
                yield extra, None
            else:
                extra.size = 3
                yield extra, b"hi\n"

    if attack == "tampered":
        def edit(m, data):  # noqa: F811
            if m.name.startswith("blobs/sha256/") and m.isreg() and not first_blob["done"]:
                first_blob["done"] = True
                data = bytes([data[0] ^ 1]) + data[1:]
            yield m, data
    if attack == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:
        _rewrite(good, bad, edit)
    res = airlock("verify", str(bad), cache=tmp_path / "c")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    expect = {"tampered": "is damaged", "unlisted": "not listed", "symlink": "link or device",
              "traversal": "unsafe path", "truncated": "bundle"}[attack]
    assert expect in res.stderr, res.stderr


@pytest.mark.parametrize("faults", [("reset", "ok"), ("truncate", "ok"), ("500", "500", "ok"), ("429", "ok")],
                         ids=["reset", "truncated", "500-then-ok", "429-then-ok"])
def test_transient_faults_are_survived(world: World, tmp_path: Path, faults: tuple[str, ...]) -> None:
    url, sha = world.extra_file("fault.bin", 300_000)
    with FaultProxy(world.nginx.url) as files, FaultProxy(world.registry.url) as reg:
        lock = resolved(world, tmp_path, f"files: [{{url: \"{url}\", sha256: \"{sha}\"}}]\n",
                        registry_url=reg.url, files_url=files.url)
        files.script("fault.bin", *faults)
        reg.script("/blobs/sha256:", *faults)
        cache = tmp_path / "c"
        res = airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "b.tar"), cache=cache)
        assert res.returncode == 0, res.stderr
        blob_files_ok(cache)
        assert airlock("verify", str(tmp_path / "b.tar"), cache=cache).returncode == 0
        if faults[0] in ("reset", "truncate"):
            assert any(p.endswith("fault.bin") and r for _, p, r in files.log), "resumed with Range"


def test_wrong_bytes_fail_naming_the_artifact(world: World, tmp_path: Path) -> None:
    url, sha = world.extra_file("wrong.bin", 50_000)
    with FaultProxy(world.nginx.url) as files:
        lock = resolved(world, tmp_path, f"files: [{{url: \"{url}\", sha256: \"{sha}\"}}]\n", files_url=files.url)
        files.script("wrong.bin", "wrong", "wrong", "wrong", "wrong", "wrong", "wrong")
        cache = tmp_path / "c"
        res = airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "b.tar"), cache=cache)
        assert res.returncode == 2 and "file wrong.bin (noarch)" in res.stderr
        assert f"expected sha256:{sha}" in res.stderr and "got sha256 " in res.stderr
        blob_files_ok(cache)
        assert not (cache / "blobs" / "sha256" / sha).exists()
        assert not (tmp_path / "b.tar").exists()


def test_kill_9_then_rerun_resumes(world: World, tmp_path: Path) -> None:
    url, sha = world.extra_file("big.bin", 3 << 20)
    with FaultProxy(world.nginx.url) as files:
        lock = resolved(world, tmp_path, f"files: [{{url: \"{url}\", sha256: \"{sha}\"}}]\n", files_url=files.url)
        files.script("big.bin", "slow")
        cache = tmp_path / "c"
        proc = subprocess.Popen([sys.executable, "-m", "airlock", "fetch", "--lock", str(lock), "-o",
                                 str(tmp_path / "b.tar")], env={**os.environ, "AIRLOCK_CACHE": str(cache)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial = cache / "partial" / sha
        deadline = time.monotonic() + 60
        while not (partial.exists() and partial.stat().st_size > 256 * 1024):
            assert time.monotonic() < deadline and proc.poll() is None, "fetch did not start the big download"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        blob_files_ok(cache)
        finished = {p.name for p in (cache / "blobs" / "sha256").iterdir()}
        assert sha not in finished and not (tmp_path / "b.tar").exists()
        files.script("big.bin", "ok")
        before = len(files.log)
        res = airlock("fetch", "--lock", str(lock), "-o", str(tmp_path / "b.tar"), cache=cache)
        assert res.returncode == 0, res.stderr
        second = files.log[before:]
        assert any(p.endswith("big.bin") and r and r != "bytes=0-" for _, p, r in second), "resumed with Range"
        for _, path, _ in second:  # nothing finished before the kill is downloaded again
            assert path.rsplit("/", 1)[-1] not in finished
        blob_files_ok(cache)
