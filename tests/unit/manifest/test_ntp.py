"""``ntp:``: host names, addresses or ``site``; anything that could inject a chrony directive is an error
naming file:line; a manifest without it keeps the digest it had before the key existed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from airlock.apply.node import ntp_servers
from airlock.apply.offline import Site
from airlock.errors import ManifestError
from airlock.manifest import load_manifest
from airlock.resolve import manifest_digest
from tests.unit.manifest.files import manifest_writer

HEAD = 'kubespray: {version: "2.30.0"}\n'


write = manifest_writer(HEAD)


def load(tmp_path: Path, body: str):
    return load_manifest(write(tmp_path, body))


def test_ntp_accepts_hosts_addresses_and_site(tmp_path: Path) -> None:
    m = load(tmp_path, "ntp: [site, 10.0.0.5, fd00::5, ntp.corp.example, site]\n").manifest
    assert m.ntp == ["site", "10.0.0.5", "fd00::5", "ntp.corp.example"]
    assert load(tmp_path, "ntp: site\n").manifest.ntp == ["site"]
    assert ntp_servers(m.ntp, Site("http://10.9.8.7:8080/files", "10.9.8.7:8080", True)) == \
        ["10.9.8.7", "10.0.0.5", "fd00::5", "ntp.corp.example"]


@pytest.mark.parametrize("bad", ['"a b"', '"x\\nserver evil"', '"-x"', '"a;b"', '""'])
def test_ntp_refuses_what_is_not_a_host(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ManifestError, match=r"airlock.yaml:2.*not a host name"):
        load(tmp_path, f"ntp: [{bad}]\n")


def test_digest_without_ntp_is_unchanged_and_ntp_changes_it(tmp_path: Path) -> None:
    plain = load(tmp_path, "arch: [amd64]\n")
    data = plain.manifest.model_dump(mode="json", exclude={"mirrors", "ntp"})
    assert manifest_digest(plain) == hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"))
                                                    .encode()).hexdigest()
    assert manifest_digest(load(tmp_path, "arch: [amd64]\nntp: [site]\n")) != manifest_digest(plain)


@pytest.mark.parametrize("release", ["2.27.1", "2.30.0", "master"])
def test_ntp_puts_chrony_in_the_package_set(tmp_path: Path, release: str) -> None:
    from airlock.plan import build_plan, package_set
    from tests.conftest import RELEASE_VERSION, kubespray_dir

    version = RELEASE_VERSION.get(release, release)
    head = f'kubespray: {{version: "{version}", source: "{kubespray_dir(release)}"}}\nos: [rocky-10, debian-12]\n'
    for body, want in (("", False), ("ntp: site\n", True)):
        p = tmp_path / "airlock.yaml"
        p.write_text(head + body)
        plan = build_plan(load_manifest(p))
        assert all(("chrony" in pkgs) == want for pkgs in package_set(plan).values()), body
        if release != "2.27.1":  # 2.28+: Kubespray's own system_packages rule (ntp_enabled, ntp_package) asks for it
            assert all(("chrony" in pkgs) == want for pkgs in plan.packages.values()), body


def test_ntp_and_a_contrary_var_is_an_error(tmp_path: Path) -> None:
    from airlock.plan import build_plan
    from tests.conftest import kubespray_dir

    p = tmp_path / "airlock.yaml"
    p.write_text(f'kubespray: {{version: "2.30.0", source: "{kubespray_dir("2.30.0")}"}}\nntp: site\n'
                 "vars:\n  ntp_package: ntp\n")
    with pytest.raises(ManifestError, match=r"airlock.yaml:4.*ntp_package is set in vars and implied by ntp:"):
        build_plan(load_manifest(p))
