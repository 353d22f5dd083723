"""admin: in airlock.yaml, the admin host's defaults, and the bootstrap tables in the lock."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airlock.bootstrap.admin import admin_host
from airlock.lockfile import dumps, parse_lock
from airlock.lockfile.model import BootstrapPin, Inputs, KubesprayPin, Lock, WheelPin
from airlock.manifest.model import Manifest


def _m(**kw: object) -> Manifest:
    return Manifest.model_validate({"kubespray": {"version": "2.30.0"}, **kw})


@pytest.mark.parametrize(("os_name", "python", "interpreter"), [
    ("debian-12", "3.11", []),
    ("rocky-9", "3.12", ["python3.12"]),      # the OS's python3 is 3.9
    ("ubuntu-22.04", "3.11", ["python3.11"]),  # Kubespray's 3.10 is raised to what airlock runs on
    ("ubuntu-24.04", "3.12", []),
    ("rocky-10", "3.12", []),
])
def test_defaults_from_first_os(os_name: str, python: str, interpreter: list[str]) -> None:
    host = admin_host(_m(os=[os_name, "debian-12"], arch=["arm64", "amd64"], admin={}))
    assert (host.os, host.arch, host.python, host.interpreter_packages) == (os_name, "amd64", python, interpreter)


def test_explicit_admin_host() -> None:
    host = admin_host(_m(os=["debian-12"], admin={"os": "alma-9", "arch": "arm64", "python": "3.11"}))
    assert (host.os, host.platform, host.glibc, host.interpreter_packages) == \
        ("alma-9", "cp311-aarch64", "2.34", ["python3.11"])


@pytest.mark.parametrize("admin", [{"os": "windows"}, {"python": "3.9"}, {"arch": "s390x"}, {"shell": "bash"}])
def test_admin_is_strict(admin: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        _m(admin=admin)


def test_no_os_no_admin_os_is_refused() -> None:
    from airlock.errors import AirlockError

    with pytest.raises(AirlockError, match="admin host is unknown"):
        admin_host(_m(admin={}))


def test_lock_round_trip_with_bootstrap() -> None:
    wheel = WheelPin(name="pip", version="25.0", filename="pip-25.0-py3-none-any.whl",
                     url="https://files.example/pip-25.0-py3-none-any.whl", sha256="a" * 64, size=1,
                     platforms=["cp311-x86_64"])
    lock = Lock(inputs=Inputs(manifest_sha256="0" * 64, kubespray_sha256="1" * 64),
                kubespray=KubesprayPin(version="2.30.0", kind="url", url="https://x/k.tgz", sha256="2" * 64),
                bootstrap=BootstrapPin(os="debian-12", arch="amd64", python="3.11", glibc="2.36",
                                       platform="cp311-x86_64", airlock="0.1.0", requirements=["pip"]),
                bootstrap_wheel=[wheel])
    text = dumps(lock)
    assert "[bootstrap]" in text and "[[bootstrap_wheel]]" in text
    assert parse_lock(text, "airlock.lock") == lock


def test_diff_shows_a_bootstrap_wheel_bump() -> None:
    from airlock.review import render
    from airlock.review.diff import diff_locks

    def with_pip(version: str, sha: str) -> Lock:
        wheel = WheelPin(name="pip", version=version, filename=f"pip-{version}-py3-none-any.whl",
                         url=f"https://files.example/pip-{version}-py3-none-any.whl", sha256=sha * 64, size=1,
                         platforms=["cp311-x86_64"])
        return Lock(inputs=Inputs(manifest_sha256="0" * 64, kubespray_sha256="1" * 64),
                    kubespray=KubesprayPin(version="2.30.0", kind="url", url="https://x/k.tgz", sha256="2" * 64),
                    bootstrap_wheel=[wheel])

    d = diff_locks(with_pip("25.0", "a"), with_pip("25.1", "b"))
    assert not d.equal
    assert "pip [bootstrap cp311-x86_64]" in render.text(d, "old", "new")
