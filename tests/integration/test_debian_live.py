"""Resolve debian-12 amd64 against the real Debian mirror: sha256s against real .debs, the closure against\napt-get's own (simulated, on an empty system). Indexes are cached under AIRLOCK_CACHE; a run reads ~10 MB of\nindexes per side when the mirror has changed."""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from airlock.manifest.model import RepoSpec
from airlock.net.http import Net
from airlock.packages import package_data
from airlock.resolvers.debs import DebRequest, resolve_debs

pytestmark = pytest.mark.network


def test_debian_12_closure_against_the_real_mirror() -> None:
    repos = (RepoSpec(name="main", url="https://deb.debian.org/debian", suite="bookworm", components=["main"]),
             RepoSpec(name="security", url="https://security.debian.org/debian-security",
                      suite="bookworm-security", components=["main"]))
    packages = ("conntrack", "socat", "ipset", "ipvsadm", "iptables", "python3", "python3-apt", "curl", "rsync")
    pins, indexes = resolve_debs(Net(), {}, DebRequest("debian-12", "amd64", packages, repos))
    names = {p.name for p in pins}
    assert set(packages) <= names and "libc6" in names and len(pins) > 30
    assert {i.repo for i in indexes} == {"main", "security"}
    for pin in random.Random(0).sample(pins, 5):
        data = urllib.request.urlopen(pin.url, timeout=60).read()
        assert hashlib.sha256(data).hexdigest() == pin.sha256 and len(data) == pin.size


# Kubespray 2.30's system_packages set for debian-12 plus airlock's site packages.
KUBESPRAY_SET = ("apparmor", "apt-transport-https", "bash-completion", "ca-certificates", "conntrack", "curl",
                 "e2fsprogs", "ebtables", "gnupg", "iproute2", "iptables", "iputils-ping", "ipvsadm", "libseccomp2",
                 "mergerfs", "openssl", "python3", "python3-apt", "rsync", "socat", "software-properties-common",
                 "tar", "unzip", "xfsprogs")


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get is not installed")
def test_default_repositories_give_what_apt_get_installs(tmp_path: Path) -> None:
    """debian-12 with airlock's default repositories (main, updates, security): the closure is the one
    ``apt-get install`` computes on an empty system from the same mirror."""
    repos = tuple(RepoSpec(**r) for r in package_data()["os"]["debian-12"]["repos"])
    pins, _ = resolve_debs(Net(), {}, DebRequest("debian-12", "amd64", KUBESPRAY_SET, repos))
    locked = {(p.name, p.version) for p in pins}
    assert {n for n, _ in locked} >= {"gnupg", "gnupg-utils", "gpg-agent", "libc6", "python3-apt"}
    for d in ("etc/apt/sources.list.d", "etc/apt/preferences.d", "var/lib/apt/lists/partial",
              "var/cache/apt/archives/partial", "var/lib/dpkg"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    (tmp_path / "var/lib/dpkg/status").write_text("")
    (tmp_path / "etc/apt/sources.list").write_text(
        "".join(f"deb [trusted=yes] {r.url} {r.suite} {' '.join(r.components)}\n" for r in repos))
    opts = ["-o", f"Dir={tmp_path}", "-o", f"Dir::State::status={tmp_path}/var/lib/dpkg/status",
            "-o", "APT::Architecture=amd64", "-o", "APT::Architectures::=", "-o", "Debug::NoLocking=1",
            "-o", "APT::Install-Recommends=false", "-o", f"Dir::Etc::trusted={tmp_path}/etc/apt/trusted.gpg",
            "-o", f"Dir::Etc::trustedparts={tmp_path}/etc/apt/trusted.gpg.d", "-o", "Acquire::Languages=none"]
    upd = subprocess.run(["apt-get", *opts, "update"], capture_output=True, text=True, check=False, timeout=600)
    assert upd.returncode == 0, upd.stdout[-2000:] + upd.stderr[-2000:]
    res = subprocess.run(["apt-get", *opts, "-s", "install", *KUBESPRAY_SET], capture_output=True, text=True,
                         check=False, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    apt = {(line.split()[1], line.split()[2].strip("(")) for line in res.stdout.splitlines()
           if line.startswith("Inst ")}
    assert apt == locked, sorted(apt ^ locked)


BOOKWORM_KEYS = Path("/usr/share/keyrings/debian-archive-bookworm-automatic.gpg")  # = archive-key-12.asc
SECURITY_KEYS = Path("/usr/share/keyrings/debian-archive-bookworm-security-automatic.gpg")


@pytest.mark.skipif(not (BOOKWORM_KEYS.is_file() and SECURITY_KEYS.is_file()),
                    reason="debian-archive-keyring is not installed")
def test_real_release_files_verify_against_debians_keys() -> None:
    """The real bookworm InRelease files carry several signatures (keys of bullseye and bookworm); the one by
    the pinned key counts. The security archive's key does not sign the main archive: refused."""
    from airlock.errors import SignatureError

    main = RepoSpec(name="main", url="https://deb.debian.org/debian", suite="bookworm", components=["main"])
    security = RepoSpec(name="security", url="https://security.debian.org/debian-security",
                        suite="bookworm-security", components=["main"])
    keys = {"main": BOOKWORM_KEYS.read_bytes(), "security": SECURITY_KEYS.read_bytes()}
    pins, indexes = resolve_debs(Net(), {}, DebRequest("debian-12", "amd64", ("socat",), (main, security), keys=keys))
    assert any(p.name == "socat" for p in pins) and {i.repo for i in indexes} == {"main", "security"}
    with pytest.raises(SignatureError, match="repo main: .* not signed by the pinned key"):
        resolve_debs(Net(), {}, DebRequest("debian-12", "amd64", ("socat",), (main,),
                                           keys={"main": SECURITY_KEYS.read_bytes()}))
