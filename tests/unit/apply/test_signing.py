"""The site's signing key: made once, kept private, deterministic signatures apt's gpgv accepts."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from airlock.apply.commit import write_file
from airlock.apply.offline import Site
from airlock.apply.repos import key_links, node_repo_files
from airlock.apply.signing import SITE_KEY, public_key, sign_releases, site_key
from airlock.lockfile.model import Inputs, KubesprayPin, Lock, RepoKeyPin, RpmPin


def test_site_key_is_made_once_and_signs_deterministically(tmp_path: Path) -> None:
    secret = site_key(tmp_path)
    assert secret.startswith(b"airlock site signing key: ed25519, created ")
    write_file(tmp_path / SITE_KEY, secret)
    assert stat.S_IMODE((tmp_path / SITE_KEY).stat().st_mode) == 0o600
    assert site_key(tmp_path) == secret  # kept: nodes keep trusting the site
    release = b"Origin: airlock\nSHA256:\n 00 1 Packages\n"
    signed = sign_releases(secret, {"debs/debian-12/amd64/Release": release})
    assert sorted(signed) == ["debs/debian-12/amd64/InRelease", "debs/debian-12/amd64/Release.gpg"]
    assert signed == sign_releases(secret, {"debs/debian-12/amd64/Release": release})  # same bytes every apply
    ring = tmp_path / "site.gpg"
    ring.write_bytes(public_key(secret))
    (tmp_path / "InRelease").write_bytes(signed["debs/debian-12/amd64/InRelease"])
    (tmp_path / "Release").write_bytes(release)
    (tmp_path / "Release.gpg").write_bytes(signed["debs/debian-12/amd64/Release.gpg"])
    assert subprocess.run(["gpgv", "--keyring", str(ring), str(tmp_path / "InRelease")], capture_output=True
                          ).returncode == 0
    assert subprocess.run(["gpgv", "--keyring", str(ring), str(tmp_path / "Release.gpg"), str(tmp_path / "Release")],
                          capture_output=True).returncode == 0
    other = site_key(tmp_path / "elsewhere")
    assert other != secret and public_key(other) != ring.read_bytes()
    # gpg reads the public key as apt's gpgv does: an ed25519 key with the site's user ID, nothing else
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    listed = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--with-colons", "--show-keys", str(ring)],
                            capture_output=True, text=True, check=True).stdout
    assert ":ed25519:" in listed and "uid:-::::" in listed and "airlock site signing key" in listed


def test_a_damaged_site_key_is_one_clear_error(tmp_path: Path) -> None:
    import pytest

    from airlock.errors import AirlockError

    (tmp_path / "admin").mkdir()
    (tmp_path / SITE_KEY).write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(AirlockError, match="not airlock's site signing key") as err:
        site_key(tmp_path)
    assert err.value.hint and "node/keys/airlock-site.gpg" in err.value.hint


def _lock(keys: list[RepoKeyPin]) -> Lock:
    rpm = [RpmPin(os="rocky-10", name=n, version="1", release="1", arch="x86_64", repo=r,
                  url=f"https://r/{n}-1-1.x86_64.rpm", sha256="1" * 64, size=1) for n, r in (("a", "baseos"),
                                                                                              ("b", "appstream"))]
    return Lock(inputs=Inputs(manifest_sha256="0" * 64, kubespray_sha256="0" * 64),
                kubespray=KubesprayPin(version="2.30.0", kind="url", url="https://x/", sha256="0" * 64),
                rpm=rpm, repo_key=keys)


def test_rpm_repo_file_checks_packages_with_every_repos_key() -> None:
    keys = [RepoKeyPin(os="rocky-10", repo=r, url=f"https://k/{r}", sha256=c * 64, size=1)
            for r, c in (("baseos", "a"), ("appstream", "b"))]
    site = Site("http://10.0.0.5:8080/files", "10.0.0.5:8080", True)
    repo = node_repo_files(_lock(keys), site)["node/yum.repos.d/airlock-rocky-10.repo"].decode()
    assert "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-airlock-rocky-10-appstream " \
           "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-airlock-rocky-10-baseos\n" in repo
    assert key_links(_lock(keys)) == {"node/keys/RPM-GPG-KEY-airlock-rocky-10-appstream": "sha256:" + "b" * 64,
                                      "node/keys/RPM-GPG-KEY-airlock-rocky-10-baseos": "sha256:" + "a" * 64}
    # One repository taken unsigned (gpgcheck: false): dnf cannot check the site's packages, and says why.
    repo = node_repo_files(_lock(keys[:1]), site)["node/yum.repos.d/airlock-rocky-10.repo"].decode()
    assert "gpgcheck=0\n" in repo and "unsigned (gpgcheck: false in airlock.yaml): appstream" in repo
