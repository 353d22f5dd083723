"""OS packages end to end: rpm and deb fixture repos -> resolve -> fetch -> apply -> serve -> dnf / apt-get."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.lockfile import read_lock
from tests.helpers import airlock
from tests.world.aptroot import apt_get, prepare
from tests.world.pipeline import served_site
from tests.world.world import World

pytestmark = pytest.mark.integration
EXTRA = ["alpha", "epsilon", "zeta", "theta"]
BODY = f"os: [rocky-10, debian-12]\narch: [amd64, arm64]\npackages: [{', '.join(EXTRA)}]\n"


@pytest.fixture(scope="module")
def site(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, Path]]:
    root = tmp_path_factory.mktemp("pkgsite")
    with served_site(world.manifest(root / "airlock.yaml", "2.30.0", BODY), root) as served:
        yield served


def test_closure_semantics(site: tuple[Path, int, Path]) -> None:
    lock = read_lock(site[2])
    x86 = {(r.name, r.version) for r in lock.rpm if r.arch in ("x86_64", "noarch")}
    assert ("beta", "2.0") in x86 and ("beta", "1.0") not in x86          # newest version
    assert ("gamma", "1.0") in x86                                          # file dependency
    assert ("provider", "1.0") in x86                                       # virtual Provides
    assert ("newpkg", "2.0") in x86 and not any(n == "oldpkg" for n, _ in x86)  # Obsoletes
    assert ("delta", "1.0") in x86                                          # chain: alpha -> beta -> libdelta
    assert not any(n == "eta" for n, _ in x86)                              # weak deps off by default
    assert {r.arch for r in lock.rpm} == {"x86_64", "aarch64", "noarch"}
    debs = {(d.name, d.version, d.arch) for d in lock.deb}
    assert ("beta", "2.0", "arm64") in debs and ("libdelta1", "1.0", "amd64") in debs
    assert ("provider", "1.0", "all") in debs and not any(d[0] == "eta" for d in debs)
    assert all(len(r.sha256) == 64 and r.size > 0 for r in lock.rpm)


def test_dnf_installs_from_the_site_alone(site: tuple[Path, int, Path], tmp_path: Path) -> None:
    site_dir, port, lock_path = site
    lock = read_lock(lock_path)
    names = sorted({r.name for r in lock.rpm if r.os == "rocky-10"} - {"oldpkg"})
    repos = tmp_path / "repos"
    repos.mkdir()
    (repos / "airlock.repo").write_bytes((site_dir / "node/yum.repos.d/airlock-rocky-10.repo").read_bytes())
    for arch in ("x86_64", "aarch64"):
        root = tmp_path / f"root-{arch}"
        res = subprocess.run(["dnf", "-y", f"--installroot={root}", f"--setopt=reposdir={repos}",
                              "--setopt=cachedir=" + str(tmp_path / f"cache-{arch}"), "--releasever=10",
                              f"--forcearch={arch}", "--setopt=install_weak_deps=False", "--nogpgcheck",
                              "install", "--downloadonly", *names], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        got = {p.name for p in (tmp_path / f"cache-{arch}").rglob("*.rpm")}
        want = {r.url.rsplit("/", 1)[-1] for r in lock.rpm if r.os == "rocky-10" and r.arch in (arch, "noarch")}
        assert got == want, sorted(got ^ want)


def test_apt_get_downloads_from_the_site_alone(site: tuple[Path, int, Path], tmp_path: Path) -> None:
    site_dir, port, lock_path = site
    lock = read_lock(lock_path)
    names = sorted({d.name for d in lock.deb if d.os == "debian-12"})
    for arch in ("amd64", "arm64"):
        root = tmp_path / arch
        prepare(root)
        (root / "etc/apt/sources.list").write_bytes((site_dir / "node/apt/airlock-debian-12.list").read_bytes())
        # signed-by= the site's key only (apply signed the site's Release with it); no [trusted=yes]
        (root / "etc/apt/keyrings/airlock-site.gpg").write_bytes((site_dir / "node/keys/airlock-site.gpg").read_bytes())
        upd = apt_get(root, "update", arch=arch)
        assert upd.returncode == 0 and "NO_PUBKEY" not in upd.stderr, upd.stdout + upd.stderr
        res = apt_get(root, "install", "-y", "--download-only", *names, arch=arch)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        got = {p.name for p in (root / "var/cache/apt/archives").glob("*.deb")}
        want = {d.url.rsplit("/", 1)[-1] for d in lock.deb if d.os == "debian-12" and d.arch in (arch, "all")}
        assert got == want, sorted(got ^ want)


def test_repos_are_deterministic_and_files_verified(site: tuple[Path, int, Path]) -> None:
    site_dir, port, lock_path = site
    lock = read_lock(lock_path)
    repomd = (site_dir / "rpms/rocky-10/x86_64/repodata/repomd.xml").read_text()
    assert "<revision>1</revision>" in repomd
    packages = (site_dir / "debs/debian-12/amd64/Packages").read_text()
    for d in [d for d in lock.deb if d.os == "debian-12" and d.arch in ("amd64", "all")]:
        assert f"SHA256: {d.sha256}" in packages
        assert hashlib.sha256((site_dir / "debs/debian-12/amd64" / d.url.rsplit("/", 1)[-1]).read_bytes()).hexdigest() == d.sha256


@pytest.mark.parametrize(("os_name", "capability"), [("rocky-10", "libmissing.so.1"), ("debian-12", "libmissing1")])
def test_unsatisfiable_names_package_arch_capability(world: World, tmp_path: Path, os_name: str, capability: str) -> None:
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", f"os: [{os_name}]\npackages: [broken]\n")
    res = airlock("resolve", "-f", str(manifest), cache=tmp_path / "c")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "broken" in res.stderr and capability in res.stderr and ("x86_64" in res.stderr or "amd64" in res.stderr)


def test_weak_deps_switch(world: World, tmp_path: Path) -> None:
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", "os: [rocky-10, debian-12]\npackages: [alpha]\n"
                              "weak_deps: true\n")
    assert airlock("resolve", "-f", str(manifest), cache=tmp_path / "c").returncode == 0
    lock = read_lock(tmp_path / "airlock.lock")
    assert any(r.name == "eta" for r in lock.rpm) and any(d.name == "eta" for d in lock.deb)
