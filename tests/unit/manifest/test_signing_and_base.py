"""airlock.yaml: a repository carries its signing key or says it is unsigned; `base:` names the nodes' system."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.errors import ManifestError
from airlock.manifest import load_manifest
from airlock.packages import package_data
from tests.unit.manifest.files import manifest_writer

HEAD = 'kubespray: {version: "2.30.0"}\nos: [rocky-9]\n'

write = manifest_writer(HEAD)


def test_a_repository_without_gpgkey_must_say_gpgcheck_false(tmp_path: Path) -> None:
    p = write(tmp_path, "repos:\n  rocky-9:\n    - {name: mine, url: \"https://r.example/el9/\"}\n")
    with pytest.raises(ManifestError, match="'mine' of rocky-9 has no gpgkey") as err:
        load_manifest(p)
    assert str(err.value).startswith(f"{p}:") and "gpgcheck: false" in err.value.message
    p = write(tmp_path, "repos:\n  rocky-9:\n    - {name: mine, url: \"https://r.example/el9/\", gpgcheck: false}\n")
    assert load_manifest(p).manifest.repos["rocky-9"][0].gpgkey is None
    p = write(tmp_path, "repos:\n  rocky-9:\n    - {name: mine, url: \"https://r.example/el9/\", "
                        "gpgkey: \"https://r.example/KEY\"}\n")
    assert load_manifest(p).manifest.repos["rocky-9"][0].gpgkey == "https://r.example/KEY"
    p = write(tmp_path, "repos:\n  rocky-9:\n    - {name: mine, url: \"https://r.example/el9/\", gpgkey: \"file:///k\"}\n")
    with pytest.raises(ManifestError, match="not an http"):
        load_manifest(p)


def test_every_default_repository_names_its_distributions_key() -> None:
    for os_name, data in package_data()["os"].items():
        for repo in data["repos"]:
            assert repo.get("gpgkey", "").startswith(("https://", "http://archive.ubuntu.com/")), (os_name, repo)


def test_base_names_repositories_and_packages(tmp_path: Path) -> None:
    p = write(tmp_path, "base:\n  rocky-9:\n    repos: [{name: baseos-9.4, url: \"https://v.example/9.4/BaseOS/{arch}/os/\","
                        " gpgcheck: false}]\n    packages: [glibc, bash, glibc]\n")
    base = load_manifest(p).manifest.base["rocky-9"]
    assert base.packages == ["bash", "glibc"] and base.repos[0].name == "baseos-9.4"
    for bad, match in (("base:\n  rocky-99: {repos: [{name: a, url: \"https://a/\", gpgcheck: false}], packages: [x]}\n", "unknown os in base"),
                       ("base:\n  rocky-9: {repos: [], packages: [x]}\n", "point release"),
                       ("base:\n  rocky-9: {repos: [{name: a, url: \"https://a/\", gpgcheck: false}], "
                        "packages: [\"a b\"]}\n", "not a package name")):
        with pytest.raises(ManifestError, match=match):
            load_manifest(write(tmp_path, bad))


def test_base_as_a_point_release(tmp_path: Path) -> None:
    from airlock.packages import base_repos_for

    m = load_manifest(write(tmp_path, 'base: {rocky-9: "9.4"}\n')).manifest
    assert m.base["rocky-9"].release == "9.4" and m.base["rocky-9"].repos == []
    urls = [r.url for r in base_repos_for(m, "rocky-9", "arm64")]
    assert urls == ["https://dl.rockylinux.org/vault/rocky/9.4/BaseOS/aarch64/os/",
                    "https://dl.rockylinux.org/vault/rocky/9.4/AppStream/aarch64/os/"]
    with pytest.raises(ManifestError, match="point release"):
        load_manifest(write(tmp_path, "base: {rocky-9: {packages: [bash]}}\n"))
    with pytest.raises(ManifestError, match="string should match"):
        load_manifest(write(tmp_path, 'base: {rocky-9: "9.4; rm"}\n'))
