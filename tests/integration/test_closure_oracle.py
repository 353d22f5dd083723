"""The closure airlock locks is what the node's package manager installs: real dnf and apt-get as oracles.

Fixture repositories (rpmbuild/createrepo_c, dpkg-deb/dpkg-scanpackages) served on 127.0.0.1 hold the cases
where a solver is free to differ from dnf or apt: a requested name another package obsoletes (Kubespray's
``ebtables`` on EL10), a requested virtual name, Debian version ordering RPM gets wrong (``3.0+1`` < ``3.0.1``),
an unversioned Provides that must not meet a versioned Breaks (debian-12's gnupg), and ``a | b`` alternatives.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from airlock.manifest.model import RepoSpec
from airlock.net.http import Net
from airlock.resolvers.debs import DebRequest, resolve_debs
from airlock.resolvers.rpms import RpmRequest, resolve_rpms
from tests.world import debrepo, rpmrepo
from tests.world.aptroot import apt_options, layout
from tests.world.servers import BackgroundHTTP

pytestmark = pytest.mark.integration

RPMS = (
    rpmrepo.Pkg("ebtables", version="1.0"),
    rpmrepo.Pkg("iptables-ebtables", version="2.0", obsoletes=("ebtables < 2.0",), requires=("iptables-libs",)),
    rpmrepo.Pkg("iptables-libs", version="2.0"),
    rpmrepo.Pkg("capability-provider", version="1.0", noarch=True, provides=("virt-cap",)),
    rpmrepo.Pkg("plain", version="1.0", requires=("ebtables-helper",)),
    rpmrepo.Pkg("ebtables-helper", version="1.0", noarch=True),
)
RPM_ASKED = ("ebtables", "virt-cap", "plain")

DEBS = (
    # debian-12's gnupg: exact-version pins around a "+deb12u2" revision, and gnupg-utils' "Breaks: gnupg-agent
    # (<< 2.1.21-4)" which gpg-agent's unversioned "Provides: gnupg-agent" must not meet.
    debrepo.Deb("tool", version="2.2~rc1-1+deb12u2", arch_all=True,
                depends="tool-utils (>= 2.2~rc1-1+deb12u2), tool-utils (<< 2.2~rc1-1+deb12u2.1~), tool-agent"),
    debrepo.Deb("tool-utils", version="2.2~rc1-1+deb12u2", breaks="old-agent (<< 2.1)"),
    debrepo.Deb("tool-agent", version="2.2~rc1-1+deb12u2", provides="old-agent"),
    debrepo.Deb("pick", version="3.0+1"),
    debrepo.Deb("pick", version="3.0.1"),
    debrepo.Deb("alt-user", arch_all=True, depends="zz-heavy | aa-light"),
    debrepo.Deb("zz-heavy", arch_all=True, depends="heavy-lib"),
    debrepo.Deb("heavy-lib"),
    debrepo.Deb("aa-light", arch_all=True),
    debrepo.Deb("daemon", depends="sysv, lsb (>= 3.0)"),
    debrepo.Deb("lsb", version="11.6", arch_all=True, depends="sysv (>= 3.0)"),
    debrepo.Deb("sysv", version="3.06", provides="lsb (= 11.1)"),
    debrepo.Deb("mailer", arch_all=True, provides="mta"),
)
DEB_ASKED = ("tool", "pick", "alt-user", "daemon", "mta")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("oracle")
    rpmrepo.build_repo(root / "rpm", RPMS)
    debrepo.build_repo(root / "deb", DEBS)
    server = BackgroundHTTP(0, functools.partial(_Quiet, directory=str(root)))
    port = server.port
    try:
        yield root, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_CACHE", str(tmp_path / "cache"))


def dnf(root: Path, baseurl: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    repos = work / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    (repos / "oracle.repo").write_text(f"[oracle]\nname=oracle\nbaseurl={baseurl}\ngpgcheck=0\nenabled=1\n")
    return subprocess.run(["dnf", "-y", f"--installroot={root}", f"--setopt=reposdir={repos}",
                           f"--setopt=cachedir={work / 'cache'}", "--releasever=10", "--forcearch=x86_64",
                           "--setopt=install_weak_deps=False", "--nogpgcheck", *args],
                          capture_output=True, text=True, check=False)


def installed(root: Path) -> set[tuple[str, str]]:
    out = subprocess.run(["rpm", f"--root={root}", "-qa", "--qf", "%{NAME} %{VERSION}\\n"],
                         capture_output=True, text=True, check=True).stdout
    return {tuple(line.split()) for line in out.splitlines() if line.strip()}  # type: ignore[misc]  # rpm's query format prints two fields


def test_rpm_closure_is_what_dnf_installs(served: tuple[Path, str], tmp_path: Path) -> None:
    root, url = served
    pins = resolve_rpms(Net(), {}, RpmRequest("rocky-10", "x86_64", RPM_ASKED,
                                              (RepoSpec(name="fixture", url=f"{url}/rpm/repo/"),)))
    locked = {(p.name, p.version) for p in pins}
    # dnf (obsoletes=1) replaces the requested ebtables by iptables-ebtables, which obsoletes it; ebtables
    # itself is locked too, only so that dnf on the node finds the name it is asked for.
    assert ("iptables-ebtables", "2.0") in locked and ("iptables-libs", "2.0") in locked
    assert ("capability-provider", "1.0") in locked
    installs = locked - {("ebtables", "1.0")}

    upstream = tmp_path / "upstream-root"
    res = dnf(upstream, f"{url}/rpm/repo/", tmp_path / "w1", "install", *RPM_ASKED)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert installed(upstream) == installs

    # The site holds the locked packages only: dnf installs the requested set from them alone.
    site = tmp_path / "site"
    site.mkdir()
    for p in pins:
        shutil.copy2(root / "rpm" / "repo" / p.url.rsplit("/", 1)[-1], site)
    subprocess.run(["createrepo_c", str(site)], check=True, capture_output=True)
    node = tmp_path / "node-root"
    res = dnf(node, site.as_uri(), tmp_path / "w2", "install", *RPM_ASKED)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert installed(node) == installs


def apt_simulate(url: str, work: Path, names: tuple[str, ...]) -> set[tuple[str, str]]:
    layout(work)
    (work / "etc/apt/sources.list").write_text(f"deb [trusted=yes] {url} stable main\n")
    opts = apt_options(work)
    upd = subprocess.run(["apt-get", *opts, "update"], capture_output=True, text=True, check=False)
    assert upd.returncode == 0, upd.stdout + upd.stderr
    res = subprocess.run(["apt-get", *opts, "-s", "install", *names], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return {(line.split()[1], line.split()[2].strip("(")) for line in res.stdout.splitlines()
            if line.startswith("Inst ")}


def test_deb_closure_is_what_apt_installs(served: tuple[Path, str], tmp_path: Path) -> None:
    _, url = served
    spec = RepoSpec(name="fixture", url=f"{url}/deb/repo", suite="stable", components=["main"])
    pins, _ = resolve_debs(Net(), {}, DebRequest("debian-12", "amd64", DEB_ASKED, (spec,)))
    locked = {(p.name, p.version) for p in pins}
    assert ("pick", "3.0.1") in locked and ("pick", "3.0+1") not in locked   # dpkg order, not RPM's
    assert ("tool-agent", "2.2~rc1-1+deb12u2") in locked and ("mailer", "1.0") in locked
    assert ("zz-heavy", "1.0") in locked and not any(n == "aa-light" for n, _ in locked)
    assert apt_simulate(f"{url}/deb/repo", tmp_path / "apt", DEB_ASKED) == locked


OLD_BASE = (rpmrepo.Pkg("libx", version="1.0"), rpmrepo.Pkg("libx-langpack", version="1.0", requires=("libx = 1.0",)),
            rpmrepo.Pkg("basething", version="1.0", noarch=True))
NEW = (rpmrepo.Pkg("libx", version="2.0"), rpmrepo.Pkg("libx-langpack", version="2.0", requires=("libx = 2.0",)),
       rpmrepo.Pkg("basething", version="1.0", noarch=True), rpmrepo.Pkg("tool", version="1.0", requires=("libx >= 2.0",)))
BASE_NAMES = ("libx", "libx-langpack", "basething")


def test_rpm_closure_installs_on_an_older_base(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """A node holding an older point release's minimal install: the set's newer libx drags in libx-langpack's
    update, which the closure solved on an empty system lacks; declaring the base puts it in the lock."""
    root = tmp_path_factory.mktemp("base-oracle")
    old, new = rpmrepo.build_repo(root / "old", OLD_BASE), rpmrepo.build_repo(root / "new", NEW)
    server = BackgroundHTTP(0, functools.partial(_Quiet, directory=str(root)))
    port = server.port
    url = f"http://127.0.0.1:{port}"
    try:
        current = (RepoSpec(name="baseos", url=f"{url}/new/repo/"),)
        plain = resolve_rpms(Net(), {}, RpmRequest("rocky-10", "x86_64", ("tool",), current))
        req = RpmRequest("rocky-10", "x86_64", ("tool",), current,
                         base_repos=(RepoSpec(name="baseos-10.0", url=f"{url}/old/repo/"),), base_packages=BASE_NAMES)
        pins = resolve_rpms(Net(), {}, req)
    finally:
        server.stop()
    assert {(p.name, p.version) for p in plain} == {("tool", "1.0"), ("libx", "2.0")}
    assert {(p.name, p.version) for p in pins} == {("tool", "1.0"), ("libx", "2.0"), ("libx-langpack", "2.0")}

    def site_of(locked: list, name: str) -> Path:
        site = tmp_path / name
        site.mkdir()
        for p in locked:
            shutil.copy2(new / p.url.rsplit("/", 1)[-1], site)
        subprocess.run(["createrepo_c", str(site)], check=True, capture_output=True)
        return site

    for locked, name, works in ((plain, "empty-solved", False), (pins, "base-solved", True)):
        node = tmp_path / f"node-{name}"
        res = dnf(node, old.as_uri(), tmp_path / f"w-base-{name}", "install", *BASE_NAMES)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        res = dnf(node, site_of(locked, name).as_uri(), tmp_path / f"w-{name}", "install", "tool")
        assert (res.returncode == 0) == works, res.stdout[-2000:] + res.stderr[-2000:]
    assert installed(tmp_path / "node-base-solved") == {("tool", "1.0"), ("libx", "2.0"), ("libx-langpack", "2.0"),
                                                        ("basething", "1.0")}


DEB_OLD = (debrepo.Deb("libx", version="1.0"), debrepo.Deb("libx-lang", version="1.0", depends="libx (= 1.0)"),
           debrepo.Deb("oldutil", version="1.0"), debrepo.Deb("basething", arch_all=True))
DEB_NEW = (debrepo.Deb("libx", version="2.0"), debrepo.Deb("libx-lang", version="2.0", depends="libx (= 2.0)"),
           debrepo.Deb("oldutil", version="2.0"), debrepo.Deb("basething", arch_all=True),
           debrepo.Deb("tool", depends="libx (>= 2.0)"), debrepo.Deb("newtool", breaks="oldutil (<< 2.0)"))
DEB_BASE = ("libx", "libx-lang", "oldutil", "basething")


def test_deb_closure_installs_on_an_older_base(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """apt on a node holding an older base: libx's update breaks the installed libx-lang, newtool Breaks the
    installed oldutil; apt upgrades both, so the site must hold their updates."""
    root = tmp_path_factory.mktemp("deb-base-oracle")
    old, new = debrepo.build_repo(root / "old", DEB_OLD), debrepo.build_repo(root / "new", DEB_NEW)
    server = BackgroundHTTP(0, functools.partial(_Quiet, directory=str(root)))
    port = server.port
    url = f"http://127.0.0.1:{port}"
    spec = RepoSpec(name="main", url=f"{url}/new/repo", suite="stable", components=["main"])
    base_spec = RepoSpec(name="main-12.0", url=f"{url}/old/repo", suite="stable", components=["main"])
    try:
        plain, _ = resolve_debs(Net(), {}, DebRequest("debian-12", "amd64", ("tool", "newtool"), (spec,)))
        pins, _ = resolve_debs(Net(), {}, DebRequest("debian-12", "amd64", ("tool", "newtool"), (spec,),
                                                     base_repos=(base_spec,), base_packages=DEB_BASE))
    finally:
        server.stop()
    assert {(p.name, p.version) for p in plain} == {("tool", "1.0"), ("newtool", "1.0"), ("libx", "2.0")}
    assert {(p.name, p.version) for p in pins} == {("tool", "1.0"), ("newtool", "1.0"), ("libx", "2.0"),
                                                   ("libx-lang", "2.0"), ("oldutil", "2.0")}
    status = (old / "dists/stable/main/binary-amd64/Packages").read_text()
    status = status.replace("Package: ", "Status: install ok installed\nPackage: ")
    for locked, works in ((plain, False), (pins, True)):
        site = tmp_path / f"site-{works}"
        site.mkdir()
        for p in locked:
            shutil.copy2(new / p.url.split("/repo/", 1)[1], site)
        scan = subprocess.run(["dpkg-scanpackages", "."], cwd=site, check=True, capture_output=True).stdout
        (site / "Packages").write_bytes(scan)
        work = tmp_path / f"apt-{works}"
        (work / "var/lib/dpkg").mkdir(parents=True)
        (work / "var/lib/dpkg/status").write_text(status)
        ok, got = _apt_install(work, f"deb [trusted=yes] file:{site} ./\n", ("tool", "newtool"))
        assert ok == works, got
    assert got == {("tool", "1.0"), ("newtool", "1.0"), ("libx", "2.0"), ("libx-lang", "2.0"), ("oldutil", "2.0")}


def _apt_install(work: Path, sources: str, names: tuple[str, ...]) -> tuple[bool, set[tuple[str, str]] | str]:
    layout(work)
    (work / "etc/apt/sources.list").write_text(sources)
    opts = apt_options(work)
    upd = subprocess.run(["apt-get", *opts, "update"], capture_output=True, text=True, check=False)
    assert upd.returncode == 0, upd.stdout + upd.stderr
    # --no-remove: a set apt can only install by removing part of the base does not count as installable.
    res = subprocess.run(["apt-get", *opts, "-s", "--no-remove", "install", *names], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        return False, res.stdout[-2000:] + res.stderr[-2000:]
    return True, {(line.split()[1], next(t for t in line.split()[2:] if t.startswith("(")).strip("("))
                  for line in res.stdout.splitlines() if line.startswith("Inst ")}
