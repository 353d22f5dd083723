"""The Debian closure from Packages stanzas: dpkg ordering, Debian's Provides rules, apt's choices."""

from __future__ import annotations

import pytest

from airlock.errors import UnsatisfiableError
from airlock.manifest.model import RepoSpec
from airlock.resolvers.debs import DebRequest, closure

SPEC = RepoSpec(name="main", url="http://127.0.0.1:1/debian", suite="stable", components=["main"])


def st(name: str, version: str = "1.0", arch: str = "amd64", **fields: str) -> tuple[RepoSpec, dict[str, str]]:
    f = {"Package": name, "Version": version, "Architecture": arch, "Filename": f"pool/{name}_{version}.deb",
         "SHA256": "0" * 64}
    f.update({k.replace("_", "-").title(): v for k, v in fields.items()})
    return SPEC, f


def names(stanzas: list[tuple[RepoSpec, dict[str, str]]], *asked: str, weak: bool = False) -> set[tuple[str, str]]:
    out = closure(DebRequest("debian-12", "amd64", asked, (SPEC,), weak), stanzas, "test")
    return {(f["Package"], f["Version"]) for _, f, _ in out}


def test_gnupg_of_debian_12_resolves() -> None:
    # gnupg (all) pins its parts to "= this revision" with a "<< revision.1~" bound; gnupg-utils breaks the old
    # gnupg-agent, which gpg-agent provides unversioned: an unversioned Provides never meets a versioned Breaks.
    v = "2.2.40-1.1+deb12u2"
    got = names([st("gnupg", v, "all", depends=f"gnupg-utils (>= {v}), gnupg-utils (<< {v}.1~), gpg-agent (= {v})"),
                 st("gnupg-utils", v, breaks="gnupg-agent (<< 2.1.21-4)"),
                 st("gnupg-utils", "2.2.40-1.1+deb12u1"),
                 st("gpg-agent", v, provides="gnupg-agent")], "gnupg")
    assert got == {("gnupg", v), ("gnupg-utils", v), ("gpg-agent", v)}


def test_newest_by_dpkg_order_and_versioned_provides() -> None:
    stanzas = [st("pick", "3.0+1"), st("pick", "3.0.1"), st("needs", depends="virt (>= 2)"),
               st("old-virt", provides="virt (= 1)"), st("new-virt", provides="virt (= 2.5)")]
    assert names(stanzas, "pick", "needs") == {("pick", "3.0.1"), ("needs", "1.0"), ("new-virt", "1.0")}


def test_apt_takes_the_first_alternative_and_the_real_package() -> None:
    stanzas = [st("u", depends="zz-first | aa-second, pinentry-curses (>= 1.2) | pinentry, lsb (>= 3)"),
               st("zz-first", depends="zz-lib"), st("zz-lib"), st("aa-second"),
               st("pinentry-curses", "1.2"), st("mew", provides="pinentry"),
               st("lsb", "11.6", "all", depends="sysv"), st("sysv", "3.06", provides="lsb (= 11.1)")]
    assert {n for n, _ in names(stanzas, "u")} == {"u", "zz-first", "zz-lib", "pinentry-curses", "lsb", "sysv"}


def test_recommends_only_with_weak_deps() -> None:
    stanzas = [st("a", recommends="b"), st("b")]
    assert names(stanzas, "a") == {("a", "1.0")}
    assert names(stanzas, "a", weak=True) == {("a", "1.0"), ("b", "1.0")}


def test_virtual_names_as_apt_takes_them() -> None:
    stanzas = [st("postfix", provides="mail-transport-agent"), st("exim4", provides="mail-transport-agent"),
               st("mawk", provides="awk")]
    assert names(stanzas, "awk") == {("mawk", "1.0")}
    with pytest.raises(UnsatisfiableError, match="provided by exim4, postfix"):
        names(stanzas, "mail-transport-agent")
    with pytest.raises(UnsatisfiableError, match="no repository provides 'nothing'"):
        names(stanzas, "nothing")
