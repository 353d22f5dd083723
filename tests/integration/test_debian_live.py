"""Resolve debian-12 amd64 against the real Debian mirror and check sha256s against real .debs."""

from __future__ import annotations

import hashlib
import random
import urllib.request

import pytest

from airlock.manifest.model import RepoSpec
from airlock.net.http import Net
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
