"""A lock is untrusted input: every name that becomes a path is refused by the reader, naming the entry,
and the TOML parse is bounded (size, nesting, integers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from airlock.errors import LockError
from airlock.lockfile import Lock, dumps, parse_lock, read_lock
from airlock.lockfile.model import DebIndexPin, DebPin, RpmPin, WheelPin
from tests.unit.lockfile.test_lockfile import H, sample


def full() -> Lock:
    base = sample()
    return base.model_copy(update={
        "rpm": [RpmPin(os="rocky-10", name="libstdc++", epoch=1, version="11.5.0", release="2.el9_4.1", arch="x86_64",
                       repo="baseos", url="https://r.example/libstdc++-11.5.0-2.el9_4.1.x86_64.rpm", sha256=H,
                       size=5)],
        "deb": [DebPin(os="debian-12", name="curl", version="7.88.1-10+deb12u8", arch="amd64", repo="main",
                       url="https://d.example/pool/main/c/curl/curl_7.88.1-10+deb12u8_amd64.deb", sha256=H, size=5)],
        "deb_index": [DebIndexPin(os="debian-12", arch="amd64", repo="main",
                                  url="https://d.example/dists/bookworm/main/binary-amd64/Packages.xz", sha256=H,
                                  size=5)],
        "wheel": [WheelPin(name="Jinja2", version="3.1.6", filename="jinja2-3.1.6-py3-none-any.whl",
                           url="https://f.example/jinja2-3.1.6-py3-none-any.whl", sha256=H, size=5,
                           platforms=["cp312-x86_64"]),
                  WheelPin(name="netaddr", version="1.3.0", filename="netaddr-1.3.0.tar.gz",
                           url="https://f.example/netaddr-1.3.0.tar.gz", sha256=H, size=5, platforms=["cp312-x86_64"],
                           sdist=True)],
    })


def swap(text: str, key: str, old: str, new: str) -> str:
    """Replace the value of ``key = "old"`` (the first one) by ``new``, as an attacker edits a lock."""
    needle = f'{key} = "{old}"'
    assert needle in text, needle
    return text.replace(needle, f"{key} = {json.dumps(new)}", 1)  # a JSON string is a TOML basic string


def test_a_full_legitimate_lock_roundtrips() -> None:
    text = dumps(full())
    assert dumps(parse_lock(text)) == text


HOSTILE = [
    ("path", "dl.k8s.io/a", "../../../X", r"file\[0\]\.path"),
    ("path", "dl.k8s.io/a", "/etc/cron.d/x", r"file\[0\]\.path"),
    ("path", "dl.k8s.io/a", "dl.k8s.io/./../a", r"file\[0\]\.path"),
    ("arch", "amd64", "../amd64", r"file\[0\]\.arch"),
    ("filename", "jinja2-3.1.6-py3-none-any.whl", "../../../X", r"wheel\[0\]"),
    ("filename", "jinja2-3.1.6-py3-none-any.whl", "evil-3.1.6-py3-none-any.whl", r"wheel\[0\].*not a distribution"),
    ("filename", "jinja2-3.1.6-py3-none-any.whl", "jinja2-3.1.6.exe", r"wheel\[0\].*not a wheel"),
    ("name", "Jinja2", "../jinja2", r"wheel\[0\]\.name"),
    ("version", "3.1.6", "3.1.6 --index-url http://evil", r"wheel\[0\]\.version"),
    ("os", "rocky-10", "../../../../X", r"rpm\[0\]\.os"),
    ("repo", "baseos", "a/b", r"rpm\[0\]\.repo"),
    ("url", "https://r.example/libstdc++-11.5.0-2.el9_4.1.x86_64.rpm", "https://r.example/..", r"rpm\[0\]\.url"),
    ("os", "debian-12", "..", r"deb\[0\]\.os"),
    ("url", "https://d.example/pool/main/c/curl/curl_7.88.1-10+deb12u8_amd64.deb", "https://d.example/a\nb",
     r"deb\[0\]\.url"),
    ("ref", "docker.io/r/a:1", "r/../../a:1", r"image\[0\]\.ref"),
    ("ref", "docker.io/r/a:1", 'r/a:1"\n[host]', r"image\[0\]\.ref"),
    ("version", "2.30.0", "../../x", r"kubespray\.version"),
]


@pytest.mark.parametrize(("key", "old", "new", "entry"), HOSTILE)
def test_reader_refuses_hostile_names_naming_the_entry(key: str, old: str, new: str, entry: str) -> None:
    text = swap(dumps(full()), key, old, new)
    with pytest.raises(LockError, match=entry) as info:
        parse_lock(text)
    assert info.value.where == "airlock.lock" and info.value.hint and "hostile" in info.value.hint


@pytest.mark.parametrize(("good", "bad", "field"), [('arch = "arm64"', 'arch = "../arm64"', "arch"),
                                                   ('os = "linux"', 'os = "a/b"', "os"),
                                                   ('variant = "v8"', 'variant = ".."', "variant")])
def test_platform_fields_are_checked(good: str, bad: str, field: str) -> None:
    text = dumps(full())
    line = '{ arch = "arm64", os = "linux", variant = "v8"'
    assert line in text
    with pytest.raises(LockError, match=rf"image\[0\]\.platforms\[0\]\.{field}"):
        parse_lock(text.replace(line, line.replace(good, bad), 1))


def test_nesting_huge_integers_and_sizes_are_bounded() -> None:
    with pytest.raises(LockError, match="nested deeper"):
        parse_lock("version = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(LockError, match="nested deeper"):
        parse_lock("version = 1\nx = " + "[" * 100 + "]" * 100 + "\n")  # parses, then refused by depth
    with pytest.raises(LockError, match="more digits"):
        parse_lock("version = 1\nx = " + "9" * 5000 + "\n")
    text = dumps(full()).replace("size = 5\n", f"size = {'9' * 100}\n", 1)
    with pytest.raises(LockError, match=r"\.size: Input should be less than or equal to"):
        parse_lock(text)


def test_a_sparse_huge_lock_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "airlock.lock"
    with path.open("wb") as f:
        f.truncate(1 << 30)
    with pytest.raises(LockError, match="larger than 64 MiB"):
        read_lock(path)


def test_cli_refuses_a_hostile_lock_with_exit_2(tmp_path: Path) -> None:
    from airlock.cli import export  # noqa: F401  (registers the command)
    from airlock.cli.main import cli

    lock = tmp_path / "airlock.lock"
    lock.write_text(swap(dumps(full()), "path", "dl.k8s.io/a", "../../../X"))
    res = CliRunner().invoke(cli, ["requirements", "--lock", str(lock)])
    assert res.exit_code == 2, res.output
    assert f"error: {lock}: file[0].path: '../../../X' is not a safe relative path" in res.output
    assert "hint:" in res.output and "Traceback" not in res.output and "internal error" not in res.output


def test_a_hostile_upstream_value_is_an_error_naming_the_artifact_not_a_crash() -> None:
    from airlock.errors import UnusableUpstreamValue
    from airlock.lockfile.model import upstream_pin

    fields = {"os": "debian-12", "name": "../../x", "version": "1.0", "arch": "amd64", "repo": "main",
              "url": "https://d.example/pool/x_1.0_amd64.deb", "sha256": H, "size": 1}
    with pytest.raises(UnusableUpstreamValue, match=r"deb \.\./\.\./x \(debian-12\): the upstream's name is unusable"):
        upstream_pin(DebPin, "deb ../../x (debian-12)", **fields)
    assert upstream_pin(DebPin, "deb x", **{**fields, "name": "x"}).name == "x"
    assert UnusableUpstreamValue("x").exit_code == 2
