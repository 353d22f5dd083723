"""Signatures kept from the distribution to the node, with real tools end to end.

An "upstream" on 127.0.0.1 serves a rocky-like rpm repository (rpmbuild, every package signed by ``rpmsign`` with a
throwaway key), an older point release's repository (the nodes' minimal base) and a Debian repository whose
InRelease the throwaway key signs. airlock resolves (pinning both keys, verifying the InRelease), fetches, applies
and serves; the nodes are throwaway roots configured by the site's own ``node/setup.sh``. Then dnf installs the
whole set from the site alone with ``gpgcheck=1`` (into an empty root and onto the older base), refuses unsigned
and foreign-signed packages, and apt installs with ``signed-by=`` the site's key only.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from airlock.apply.node import SITE_CA
from airlock.kubespray.tree import KubesprayTree
from airlock.lockfile import Lock, read_lock
from airlock.packages import site_packages
from tests.integration.conftest import run_airlock as airlock
from tests.integration.test_node import download_node, fake_debian, fake_rocky, tree
from tests.world import debrepo, rpmrepo
from tests.world.aptroot import apt_get, prepare
from tests.world.pipeline import served_site
from tests.world.servers import BackgroundHTTP, free_port
from tests.world.signing import ThrowawayKey
from tests.world.world import World, shared_tree

pytestmark = pytest.mark.integration

# The nodes' minimal install of an older point release, and what the current release has instead: the set's
# `tool` needs libx 2.0, whose update breaks the installed libx-langpack 1.0 (it requires libx = 1.0).
OLD_BASE = (rpmrepo.Pkg("libx", version="1.0"), rpmrepo.Pkg("libx-langpack", version="1.0", requires=("libx = 1.0",)),
            rpmrepo.Pkg("basething", version="1.0", noarch=True), rpmrepo.Pkg("python3", version="0.9", noarch=True))
CURRENT = (rpmrepo.Pkg("libx", version="2.0"), rpmrepo.Pkg("libx-langpack", version="2.0", requires=("libx = 2.0",)),
           rpmrepo.Pkg("tool", version="1.0", requires=("libx >= 2.0",)))
BASE_NAMES = ("basething", "libx", "libx-langpack", "python3")
ASKED = ("alpha", "epsilon", "zeta", "tool")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Signed:
    upstream: Path     # served at url
    url: str
    site: Path
    site_url: str
    lock: Lock
    key: ThrowawayKey


def kubespray_names(os_name: str) -> list[str]:
    pkgs = set(KubesprayTree(shared_tree("2.30.0"), "2.30.0").role_layer("system_packages", "vars")["pkgs"])
    return sorted(pkgs | set(site_packages(os_name)) | {"nfs-utils", "nfs-common"})


@pytest.fixture(scope="module")
def signed(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    root = tmp_path_factory.mktemp("signed")
    up = root / "upstream"
    key = ThrowawayKey()
    rpm_names = [n for n in kubespray_names("rocky-10") if n not in {p.name for p in CURRENT}]
    rpmrepo.build_repo(root / "build-rpm", list(rpmrepo.STRUCTURE) + rpmrepo.dummies(rpm_names) + list(CURRENT),
                       signer=key)
    rpmrepo.build_repo(root / "build-old", OLD_BASE)  # the point release's metadata only: unsigned is fine here
    debrepo.build_repo(root / "build-deb", list(debrepo.STRUCTURE) + debrepo.dummies(
        kubespray_names("debian-12") + ["tool"]), signer=key)
    for name in ("rpm", "old", "deb"):
        shutil.copytree(root / f"build-{name}" / "repo", up / name)
    port = free_port()
    server = BackgroundHTTP(port, functools.partial(_Quiet, directory=str(up)))  # type: ignore[arg-type]
    u = f"http://127.0.0.1:{port}"
    body = (f"os: [rocky-10, debian-12]\narch: [amd64]\npackages: [{', '.join(ASKED)}]\n"
            "repos:\n"
            f'  rocky-10: [{{name: baseos, url: "{u}/rpm/", gpgkey: "{u}/rpm/RPM-GPG-KEY-fixture"}}]\n'
            f'  debian-12: [{{name: main, url: "{u}/deb", suite: stable, components: [main], '
            f'gpgkey: "{u}/deb/archive-key.asc"}}]\n'
            "base:\n"
            f'  rocky-10:\n    repos: [{{name: baseos-10.0, url: "{u}/old/", gpgcheck: false}}]\n'
            f"    packages: [{', '.join(BASE_NAMES)}]\n")
    try:
        with served_site(world.manifest(root / "airlock.yaml", "2.30.0", body), root) as (site, site_port, lock):
            yield Signed(up, u, site, f"http://127.0.0.1:{site_port}", read_lock(lock), key)
    finally:
        server.stop()
        key.close()


def test_lock_pins_the_keys_and_the_base_updates(signed: Signed) -> None:
    keys = {(k.os, k.repo): k for k in signed.lock.repo_key}
    assert set(keys) == {("rocky-10", "baseos"), ("debian-12", "main")}  # the base's repo is metadata only
    for (os_name, _), path in ((("rocky-10", ""), "rpm/RPM-GPG-KEY-fixture"), (("debian-12", ""), "deb/archive-key.asc")):
        pin = next(k for k in signed.lock.repo_key if k.os == os_name)
        assert pin.sha256 == hashlib.sha256((signed.upstream / path).read_bytes()).hexdigest()
        assert pin.url == f"{signed.url}/{path}"
    rpms = {(r.name, r.version) for r in signed.lock.rpm}
    # Nothing asked for libx-langpack: only the declared base (its 1.0 breaks under libx 2.0) brings its update.
    assert ("libx-langpack", "2.0") in rpms and ("libx", "2.0") in rpms and ("tool", "1.0") in rpms
    assert not any(v in ("0.9",) or (n, v) == ("libx", "1.0") for n, v in rpms)
    # The site: the distribution's key for dnf, its own key for apt, the secret key kept private and unserved.
    assert (signed.site / "node/keys/RPM-GPG-KEY-airlock-rocky-10-baseos").read_bytes() == \
        (signed.upstream / "rpm/RPM-GPG-KEY-fixture").read_bytes()
    secret = signed.site / "admin/site-signing.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    repo = (signed.site / "node/yum.repos.d/airlock-rocky-10.repo").read_text()
    assert "gpgcheck=1\n" in repo and "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-airlock-rocky-10-baseos\n" in repo
    sources = (signed.site / "node/apt/airlock-debian-12.list").read_text()
    assert "[signed-by=/etc/apt/keyrings/airlock-site.gpg]" in sources and "trusted" not in sources


def gpgv_ok(keyring: Path, *files: Path) -> bool:
    return subprocess.run(["gpgv", "--keyring", str(keyring), *map(str, files)], capture_output=True).returncode == 0


def test_the_site_signs_its_release_deterministically(signed: Signed, tmp_path: Path) -> None:
    folder = signed.site / "debs/debian-12/amd64"
    ring = signed.site / "node/keys/airlock-site.gpg"
    assert gpgv_ok(ring, folder / "InRelease")
    assert gpgv_ok(ring, folder / "Release.gpg", folder / "Release")
    # Re-applying keeps the key (nodes keep trusting the site) and gives the same signature bytes.
    before = {p: (signed.site / p).read_bytes() for p in ("admin/site-signing.key", "node/keys/airlock-site.gpg",
                                                          "debs/debian-12/amd64/InRelease")}
    root = signed.site.parent
    res = airlock("apply", str(root / "b.tar"), "--dest", str(signed.site), "--url", signed.site_url, cache=root / "cache")
    assert res.returncode == 0, res.stderr
    assert {p: (signed.site / p).read_bytes() for p in before} == before


def dnf(root: Path, work: Path, *args: str, gpgkey: str | None = None) -> subprocess.CompletedProcess[str]:
    """dnf on a throwaway root with the root's own repo files. dnf reads gpgkey= file URLs from the host even with
    --installroot: ``gpgkey`` points it at the root's copy of the key that setup.sh installed."""
    opts = [f"--setopt=airlock-rocky-10.gpgkey={gpgkey}"] if gpgkey else []
    return subprocess.run(["dnf", "-y", f"--installroot={root}", f"--setopt=reposdir={root}/etc/yum.repos.d",
                           f"--setopt=cachedir={work}/cache", "--releasever=10", "--forcearch=x86_64",
                           "--setopt=install_weak_deps=False", *opts, *args], capture_output=True, text=True)


def installed(root: Path) -> dict[str, str]:
    out = subprocess.run(["rpm", f"--root={root}", "-qa", "--qf", "%{NAME} %{VERSION}\\n"], capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def node_root(signed: Signed, tmp_path: Path, *, debian: bool = False) -> Path:
    """A throwaway root configured by setup.sh downloaded from the site (repo files and keys)."""
    node = download_node(signed.site, signed.site_url, tmp_path / "dl")
    root = (fake_debian if debian else fake_rocky)(tmp_path / "root")
    res = subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(root)},
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return root


@pytest.mark.parametrize("base", [False, True], ids=["empty-root", "older-base"])
def test_dnf_installs_the_set_from_the_site_with_gpgcheck(signed: Signed, tmp_path: Path, base: bool) -> None:
    root = node_root(signed, tmp_path)
    key = root / "etc/pki/rpm-gpg/RPM-GPG-KEY-airlock-rocky-10-baseos"
    assert key.read_bytes() == (signed.upstream / "rpm/RPM-GPG-KEY-fixture").read_bytes()
    if base:  # the point release's minimal install, from its own (old) repository
        old = tmp_path / "old-repos"
        old.mkdir()
        (old / "old.repo").write_text(f"[old]\nname=old\nbaseurl={signed.url}/old/\ngpgcheck=0\n")
        res = subprocess.run(["dnf", "-y", f"--installroot={root}", f"--setopt=reposdir={old}",
                              f"--setopt=cachedir={tmp_path}/old-cache", "--releasever=10", "--forcearch=x86_64",
                              "install", *BASE_NAMES], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        assert installed(root)["libx-langpack"] == "1.0"
    # The whole set (every locked name but obsoleted ones and the base-only update dnf must find by itself).
    names = sorted({r.name for r in signed.lock.rpm if r.os == "rocky-10"} - {"oldpkg", "libx-langpack"})
    res = dnf(root, tmp_path, "install", *names, gpgkey=key.as_uri())
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    got = installed(root)
    assert set(names) <= set(got) and got["libx"] == "2.0" and got["tool"] == "1.0"
    if base:
        # libx-langpack's update came from the site (nothing but the base asks for it); an installed python3 is
        # left as it is (``dnf install`` does not upgrade what is installed), so the node needs nothing more.
        assert got["libx-langpack"] == "2.0" and got["python3"] == "0.9" and got["basething"] == "1.0"
    signatures = subprocess.run(["rpm", f"--root={root}", "-q", "--qf", "%{SIGPGP:pgpsig}%{RSAHEADER:pgpsig}\\n",
                                 "tool", "alpha"], capture_output=True, text=True, check=True).stdout
    assert signatures.count(signed.key.fingerprint[-16:].lower()) == 2, signatures


def test_dnf_refuses_unsigned_and_foreign_signed_packages(signed: Signed, tmp_path: Path) -> None:
    """Packages the pinned key did not sign (none, or another key) are refused with gpgcheck=1."""
    other = ThrowawayKey("someone else")
    try:
        plain = rpmrepo.build_repo(tmp_path / "plain", [rpmrepo.Pkg("intruder", noarch=True)])
        foreign = rpmrepo.build_repo(tmp_path / "foreign", [rpmrepo.Pkg("stranger", noarch=True)], signer=other)
    finally:
        other.close()
    root = node_root(signed, tmp_path)
    key = root / "etc/pki/rpm-gpg/RPM-GPG-KEY-airlock-rocky-10-baseos"
    for repo, name in ((plain, "intruder"), (foreign, "stranger")):
        (root / "etc/yum.repos.d/airlock-rocky-10.repo").write_text(
            f"[airlock-rocky-10]\nname=x\nbaseurl={repo.as_uri()}/\ngpgcheck=1\ngpgkey={key.as_uri()}\n")
        res = dnf(root, tmp_path / name, "install", name)
        assert res.returncode != 0, res.stdout[-2000:]
        assert name not in installed(root)
        assert any(s in res.stdout + res.stderr for s in ("not signed", "GPG check FAILED", "NOKEY", "not installed",
                                                           "public key")), res.stdout[-2000:] + res.stderr[-2000:]


def test_apt_installs_from_the_site_with_signed_by_only(signed: Signed, tmp_path: Path) -> None:
    root = node_root(signed, tmp_path, debian=True)
    prepare(root)
    assert (root / "etc/apt/keyrings/airlock-site.gpg").read_bytes() == \
        (signed.site / "node/keys/airlock-site.gpg").read_bytes()
    assert sorted(p.name for p in (root / "etc/apt/sources.list.d").iterdir()) == ["airlock-debian-12.list"]
    upd = apt_get(root, "update")
    assert upd.returncode == 0, upd.stdout + upd.stderr
    for warning in ("NO_PUBKEY", "not signed", "insecure", "GPG error"):  # apt took the site as authenticated
        assert warning not in upd.stdout + upd.stderr, upd.stdout + upd.stderr
    names = sorted({d.name for d in signed.lock.deb if d.os == "debian-12"})
    res = apt_get(root, "install", "-y", "--download-only", *names)  # refused for unauthenticated packages
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    got = {p.name for p in (root / "var/cache/apt/archives").glob("*.deb")}
    assert got == {d.url.rsplit("/", 1)[-1] for d in signed.lock.deb if d.os == "debian-12" and d.arch in ("amd64", "all")}
    # Another key in the keyring's place: apt refuses the site.
    other = ThrowawayKey("not the site")
    try:
        (root / "etc/apt/keyrings/airlock-site.gpg").write_bytes(other._gpg("--export", other.fingerprint))
    finally:
        other.close()
    shutil.rmtree(root / "var/lib/apt/lists")
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    bad = apt_get(root, "update")
    assert "NO_PUBKEY" in bad.stdout + bad.stderr or "not signed" in bad.stdout + bad.stderr, bad.stdout + bad.stderr


@pytest.mark.parametrize("fault", ["other-key", "tampered"])
def test_resolve_refuses_a_release_not_signed_by_the_pinned_key(world: World, signed: Signed, tmp_path: Path,
                                                                fault: str) -> None:
    up = tmp_path / "up"
    shutil.copytree(signed.upstream / "deb", up / "deb")
    if fault == "other-key":
        other = ThrowawayKey("not the archive")
        try:
            (up / "deb/archive-key.asc").write_bytes(other.public_armored())
        finally:
            other.close()
    else:
        inrelease = up / "deb/dists/stable/InRelease"
        inrelease.write_bytes(inrelease.read_bytes().replace(b"Suite: stable", b"Suite: stab1e", 1))
    port = free_port()
    server = BackgroundHTTP(port, functools.partial(_Quiet, directory=str(up)))  # type: ignore[arg-type]
    u = f"http://127.0.0.1:{port}"
    body = (f"os: [debian-12]\narch: [amd64]\npackages: [alpha]\nrepos:\n  debian-12: [{{name: main, url: \"{u}/deb\", "
            f"suite: stable, components: [main], gpgkey: \"{u}/deb/archive-key.asc\"}}]\n")
    try:
        res = airlock("resolve", "-f", str(world.manifest(tmp_path / "airlock.yaml", "2.30.0", body)),
                      cache=tmp_path / "c")
    finally:
        server.stop()
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "repo main" in res.stderr and f"{u}/deb/dists/stable/InRelease" in res.stderr
    assert ("not signed by the pinned key" if fault == "other-key" else "signature is bad") in res.stderr
    assert "hint:" in res.stderr and "gpgkey" in res.stderr
    assert not (tmp_path / "airlock.lock").exists()


@pytest.mark.parametrize("os_name", ["rocky-10", "debian-12"])
def test_playbook_installs_the_keys_and_ca_setup_sh_installs(signed: Signed, tmp_path: Path, ansible_playbook: str,
                                                             os_name: str) -> None:
    """The files the dnf/apt tests above used (repo file, keys), installed alike by node/site.yml; a site CA is
    one optional step, taken when apply wrote SITE_CA (simulated here: h3's TLS site writes it)."""
    node = download_node(signed.site, signed.site_url, tmp_path / "dl")
    ca = node.parent / SITE_CA
    ca.parent.mkdir(parents=True, exist_ok=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIBfixture\n-----END CERTIFICATE-----\n")
    fake = fake_debian if os_name == "debian-12" else fake_rocky
    by_script = fake(tmp_path / "by-script")
    subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(by_script)},
                   check=True, capture_output=True)
    by_playbook = fake(tmp_path / "by-playbook")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "ANSIBLE_HOME": str(tmp_path / "ansible-home")}
    run = subprocess.run([ansible_playbook, "-i", "localhost,", "-c", "local", str(node / "site.yml"),
                          "-e", f"airlock_root={by_playbook}", "-e", f"airlock_os={os_name}",
                          "-e", f"ansible_python_interpreter={Path(ansible_playbook).parent / 'python'}"],
                         capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert tree(by_playbook) == tree(by_script)
    if os_name == "rocky-10":
        want = {"etc/pki/rpm-gpg/RPM-GPG-KEY-airlock-rocky-10-baseos": "node/keys/RPM-GPG-KEY-airlock-rocky-10-baseos",
                "etc/yum.repos.d/airlock-rocky-10.repo": "node/yum.repos.d/airlock-rocky-10.repo",
                "etc/pki/ca-trust/source/anchors/airlock-ca.crt": SITE_CA}
    else:
        want = {"etc/apt/keyrings/airlock-site.gpg": "node/keys/airlock-site.gpg",
                "etc/apt/sources.list.d/airlock-debian-12.list": "node/apt/airlock-debian-12.list",
                "usr/local/share/ca-certificates/airlock-ca.crt": SITE_CA}
    for installed_at, served in want.items():
        assert (by_playbook / installed_at).read_bytes() == (node.parent / served).read_bytes(), installed_at
    # Without the CA file, neither installs one.
    ca.unlink()
    bare = fake(tmp_path / "bare")
    subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(bare)},
                   check=True, capture_output=True)
    assert not any(p.name == "airlock-ca.crt" for p in bare.rglob("*"))


COMPS = """<?xml version="1.0" encoding="UTF-8"?>
<comps>
  <group><id>core</id><name>Core</name><packagelist>
    <packagereq type="mandatory">libx</packagereq>
    <packagereq type="default">libx-langpack</packagereq>
    <packagereq type="optional">python3</packagereq>
  </packagelist></group>
  <group><id>other</id><name>Other</name><packagelist><packagereq>basething</packagereq></packagelist></group>
</comps>
"""


def test_base_given_as_a_point_release_reads_its_minimal_install(world: World, signed: Signed, tmp_path: Path) -> None:
    """``base: {rocky-10: "10.0"}``: the release's vault repositories (reached here through a mirror) and its
    minimal install, the comps ``core`` group (mandatory and default packages): libx-langpack's update is locked."""
    vault = tmp_path / "up/vault/10.0"
    baseos, appstream = vault / "BaseOS/x86_64/os", vault / "AppStream/x86_64/os"
    shutil.copytree(signed.upstream / "old", baseos)
    shutil.rmtree(baseos / "repodata")
    (tmp_path / "comps.xml").write_text(COMPS)
    subprocess.run(["createrepo_c", "--general-compress-type", "gz", "-g", str(tmp_path / "comps.xml"), str(baseos)], check=True, capture_output=True)
    appstream.mkdir(parents=True)
    subprocess.run(["createrepo_c", "--general-compress-type", "gz", str(appstream)], check=True, capture_output=True)
    port = free_port()
    server = BackgroundHTTP(port, functools.partial(_Quiet, directory=str(tmp_path / "up")))  # type: ignore[arg-type]
    u = signed.url
    body = (f"os: [rocky-10]\narch: [amd64]\npackages: [tool]\nrepos:\n  rocky-10: [{{name: baseos, url: \"{u}/rpm/\", "
            f"gpgkey: \"{u}/rpm/RPM-GPG-KEY-fixture\"}}]\nbase: {{rocky-10: \"10.0\"}}\n")
    try:
        manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", body, extra_mirrors=[
            ("https://dl.rockylinux.org/vault/rocky/10.0", f"http://127.0.0.1:{port}/vault/10.0")])
        res = airlock("resolve", "-f", str(manifest), cache=tmp_path / "c")
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr
    rpms = {(r.name, r.version) for r in read_lock(tmp_path / "airlock.lock").rpm}
    assert ("libx-langpack", "2.0") in rpms and ("tool", "1.0") in rpms
    (tmp_path / "deb").mkdir()
    debian = world.manifest(tmp_path / "deb" / "airlock.yaml", "2.30.0", "os: [debian-12]\nbase: {debian-12: \"12.4\"}\n")
    bad = airlock("resolve", "-f", str(debian), cache=tmp_path / "c")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "no archive of debian-12's point releases" in bad.stderr and "base.debian-12.repos" in bad.stderr
