"""bootstrap/ in bundle.tar: made by fetch from the lock, byte-identical, checked by verify and install.sh."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from airlock.lockfile import read_lock, write_lock
from airlock.lockfile.model import BootstrapPin
from tests.integration.test_fetch import airlock, resolved
from tests.world.world import World

pytestmark = pytest.mark.integration


def with_bootstrap(lock_path: Path, admin_os: str = "debian-12") -> Path:
    """The world's lock plus a bootstrap whose 'closure' is the world's (stand-in) wheels."""
    lock = read_lock(lock_path)
    wheels = [w.model_copy(update={"platforms": ["cp311-x86_64"]}) for w in lock.wheel[:3]]
    pin = BootstrapPin(os=admin_os, arch="amd64", python="3.11", glibc="2.36", platform="cp311-x86_64",
                       airlock="0.1.0", requirements=sorted(w.name for w in wheels))
    write_lock(lock.model_copy(update={"bootstrap": pin, "bootstrap_wheel": wheels}), lock_path)
    return lock_path


def members(bundle: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(bundle) as tar:
        return tar.getmembers()


def test_bootstrap_folder_is_at_the_front_listed_and_reproducible(world: World, tmp_path: Path) -> None:
    lock = with_bootstrap(resolved(world, tmp_path, "arch: [amd64]\n"))
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    assert airlock("fetch", "--lock", str(lock), "-o", str(a), cache=tmp_path / "c1").returncode == 0
    res = airlock("fetch", "--lock", str(lock), "-o", str(b), cache=tmp_path / "c2",
                  env={"SOURCE_DATE_EPOCH": "315532800"})
    assert res.returncode == 0, res.stderr
    assert a.read_bytes() == b.read_bytes()
    names = [m.name for m in members(a)]
    assert names[:3] == ["bundle.json", "airlock.lock", "bootstrap"]  # the lock first: verify reads it before any file
    boot = [n for n in names if n.startswith("bootstrap")]
    assert names[2:2 + len(boot)] == boot  # one run, right after the index and the lock
    locked = read_lock(lock)
    for w in locked.bootstrap_wheel:
        assert f"bootstrap/wheels/{w.filename}" in names
    assert "bootstrap/wheels/airlock_kubespray-0.1.0-py3-none-any.whl" in names
    assert {"bootstrap/install.sh", "bootstrap/SHA256SUMS"} <= set(names)
    with tarfile.open(a) as tar:
        sums = tar.extractfile("bootstrap/SHA256SUMS").read().decode()  # type: ignore[union-attr]  # a regular member: extractfile gives a file
        listed = {line.split("  ", 1)[1] for line in sums.splitlines()}
        assert listed == {n.removeprefix("bootstrap/") for n in boot if tar.getmember(n).isfile()} - {"SHA256SUMS"}
    assert airlock("verify", str(a), cache=tmp_path / "c1").returncode == 0


def _rewrite(src: Path, dst: Path, name: str, data: bytes) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as tout:
        for m in tin.getmembers():
            if m.name == name:
                m.size = len(data)
                tout.addfile(m, io.BytesIO(data))
            else:
                tout.addfile(m, tin.extractfile(m) if m.isfile() else None)


def test_verify_and_install_refuse_damaged_bootstrap(world: World, tmp_path: Path) -> None:
    lock = with_bootstrap(resolved(world, tmp_path, "arch: [amd64]\n"))
    bundle = tmp_path / "bundle.tar"
    assert airlock("fetch", "--lock", str(lock), "-o", str(bundle), cache=tmp_path / "c").returncode == 0
    wheel = f"bootstrap/wheels/{read_lock(lock).bootstrap_wheel[0].filename}"
    bad = tmp_path / "bad.tar"
    _rewrite(bundle, bad, wheel, b"not the wheel")
    res = airlock("verify", str(bad), cache=tmp_path / "c")
    assert res.returncode == 2 and wheel in res.stderr and "Traceback" not in res.stderr
    # install.sh on its own (airlock is not there yet): SHA256SUMS catches the same damage.
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["tar", "-xf", str(bad), "-C", str(out), "bootstrap/"], check=True)
    res2 = subprocess.run(["sh", str(out / "bootstrap/install.sh"), "--prefix", str(tmp_path / "opt")],
                          check=False, capture_output=True, text=True)
    assert res2.returncode == 2, res2.stderr
    if Path("/etc/os-release").read_text().find('ID=debian') >= 0 and os.uname().machine == "x86_64":
        assert "does not match SHA256SUMS" in res2.stderr
    assert not (tmp_path / "opt" / "bin").exists()


def test_install_refuses_another_os(world: World, tmp_path: Path) -> None:
    lock = with_bootstrap(resolved(world, tmp_path, "arch: [amd64]\n"), admin_os="rocky-9")
    bundle = tmp_path / "bundle.tar"
    assert airlock("fetch", "--lock", str(lock), "-o", str(bundle), cache=tmp_path / "c").returncode == 0
    subprocess.run(["tar", "-xf", str(bundle), "-C", str(tmp_path), "bootstrap/"], check=True)
    if "ID=rocky" in Path("/etc/os-release").read_text():
        pytest.skip("this machine is Rocky")
    res = subprocess.run(["sh", str(tmp_path / "bootstrap/install.sh"), "--prefix", str(tmp_path / "opt")],
                         check=False, capture_output=True, text=True)
    assert res.returncode == 2 and "unsupported OS" in res.stderr and "rocky-9" in res.stderr


def test_rpm_admin_host_gets_python_from_the_bundle(world: World, tmp_path: Path) -> None:
    """rocky-9's python3 is 3.9: the lock pins python3.12's closure from the OS repository (here a fixture
    of python3.12-like RPMs), fetch adds it with repodata, install.sh installs it with dnf."""
    import shutil

    from airlock.bootstrap.admin import admin_host
    from airlock.bootstrap.resolve import BootstrapLock, _interpreter
    from airlock.manifest.model import Manifest
    from airlock.net.http import Net
    from tests.world import rpmrepo

    repo = rpmrepo.build_repo(tmp_path / "pkgbuild", [
        rpmrepo.Pkg("python3.12", version="3.12.9", requires=("python3.12-libs = 3.12.9",),
                    files=("/usr/bin/python3.12",)),
        rpmrepo.Pkg("python3.12-libs", version="3.12.9"),
        rpmrepo.Pkg("unrelated-tool"),
    ])
    served = world.files_root / "rpm.fixture.example" / f"boot-{tmp_path.name}"
    shutil.copytree(repo, served)
    manifest = Manifest.model_validate({
        "kubespray": {"version": "2.30.0"}, "os": ["rocky-9"], "admin": {},
        "repos": {"rocky-9": [{"name": "fixture", "url": f"https://rpm.fixture.example/{served.name}/",
                                          "gpgcheck": False}]},
        "mirrors": world.mirrors()})
    host = admin_host(manifest)
    assert host.interpreter_packages == ["python3.12"]
    net = Net()
    try:
        found = BootstrapLock(pin=None)  # type: ignore[arg-type]  # the pin is filled in by the call under test
        _interpreter(manifest, host, net, found)
    finally:
        net.close()
    assert sorted(r.name for r in found.rpm) == ["python3.12", "python3.12-libs"]
    assert all(r.arch == "x86_64" and len(r.sha256) == 64 for r in found.rpm)

    lock_path = with_bootstrap(resolved(world, tmp_path, "arch: [amd64]\n"), admin_os="rocky-9")
    lock = read_lock(lock_path)
    assert lock.bootstrap is not None
    write_lock(lock.model_copy(update={
        "bootstrap": lock.bootstrap.model_copy(update={"interpreter": ["python3.12"]}),
        "bootstrap_rpm": found.rpm}), lock_path)
    bundle = tmp_path / "bundle.tar"
    res = airlock("fetch", "--lock", str(lock_path), "-o", str(bundle), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    names = [m.name for m in members(bundle)]
    assert "bootstrap/rpms/repodata/repomd.xml" in names
    assert any(n.startswith("bootstrap/rpms/python3.12-libs-3.12.9") for n in names)
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["tar", "-xf", str(bundle), "-C", str(out), "bootstrap/"], check=True)
    target = tmp_path / "installroot"
    target.mkdir()
    run = subprocess.run(["sh", str(out / "bootstrap/install.sh"), "--installroot", str(target)], check=False,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    q = subprocess.run(["rpm", "--root", str(target), "-q", "python3.12", "python3.12-libs", "unrelated-tool"],
                       check=False, capture_output=True, text=True)
    assert "python3.12-3.12.9-1.x86_64" in q.stdout and "python3.12-libs-3.12.9-1.x86_64" in q.stdout
    assert "unrelated-tool is not installed" in q.stdout
    assert (target / "usr/bin/python3.12").is_file()


def test_apply_writes_a_serve_unit_that_runs(world: World, tmp_path: Path) -> None:
    import shlex
    import sys
    import time
    import urllib.request

    from tests.world.servers import free_port

    lock = resolved(world, tmp_path, "arch: [amd64]\n")
    bundle = tmp_path / "bundle.tar"
    assert airlock("fetch", "--lock", str(lock), "-o", str(bundle), cache=tmp_path / "c").returncode == 0
    launcher = tmp_path / "bin" / "airlock"
    launcher.parent.mkdir()
    repo = shlex.quote(str(Path(__file__).resolve().parents[2]))
    launcher.write_text(f"#!/bin/sh\nPYTHONPATH={repo} exec {sys.executable} -m airlock \"$@\"\n")
    launcher.chmod(0o755)
    port = free_port()
    site = tmp_path / "site"
    res = airlock("apply", str(bundle), "--dest", str(site), "--url", f"http://127.0.0.1:{port}",
                  cache=tmp_path / "c", env={"AIRLOCK_LAUNCHER": str(launcher)})
    assert res.returncode == 0, res.stderr
    unit = (site / "admin" / "airlock-serve.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv == [str(launcher), "serve", str(site), "--listen", f"0.0.0.0:{port}"]
    assert "WantedBy=multi-user.target" in unit and "DynamicUser=yes" in unit
    argv[-1] = f"127.0.0.1:{port}"  # tests stay on loopback
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        f = read_lock(lock).file[0]
        for _ in range(100):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/files/{f.path}", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the unit's ExecStart did not serve")
        assert hashlib.sha256(body).hexdigest() == f.sha256
    finally:
        proc.terminate()
        proc.wait(timeout=10)
