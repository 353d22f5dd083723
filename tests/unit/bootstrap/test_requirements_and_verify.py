"""`requirements --platform` refuses platforms the lock lacks; verify's bootstrap rules; venv's platform pick."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from airlock.bootstrap.check import check_bootstrap
from airlock.bundle.model import BundleIndex, Entry
from airlock.cli import export  # noqa: F401  (registers the command)
from airlock.cli.main import cli
from airlock.errors import BundleError
from airlock.lockfile import write_lock
from airlock.lockfile.model import BootstrapPin, Inputs, KubesprayPin, Lock, WheelPin


def _wheel(name: str, version: str, platform: str) -> WheelPin:
    return WheelPin(name=name, version=version, filename=f"{name}-{version}-py3-none-any.whl",
                    url=f"https://files.example/{name}-{version}-py3-none-any.whl", sha256="a" * 64, size=1,
                    platforms=[platform])


def _lock(**kw: object) -> Lock:
    return Lock(inputs=Inputs(manifest_sha256="0" * 64, kubespray_sha256="1" * 64),
                kubespray=KubesprayPin(version="2.30.0", kind="url", url="https://x/k.tgz", sha256="2" * 64),
                **kw)  # type: ignore[arg-type]  # kw holds Lock fields


def test_requirements_refuses_a_platform_the_lock_lacks(tmp_path: Path) -> None:
    path = tmp_path / "airlock.lock"
    write_lock(_lock(wheel=[_wheel("jmespath", "1.1.0", "cp312-x86_64")]), path)
    res = CliRunner().invoke(cli, ["requirements", "--lock", str(path), "--platform", "cp311-x86_64"])
    assert res.exit_code == 2 and "no wheels for cp311-x86_64" in res.output and "cp312-x86_64" in res.output
    ok = CliRunner().invoke(cli, ["requirements", "--lock", str(path), "--platform", "cp312-x86_64"])
    assert ok.exit_code == 0 and "jmespath==1.1.0" in ok.output


def _index(*paths: str) -> BundleIndex:
    return BundleIndex(lock_sha256="0" * 64, entries=[Entry(path=p, digest="sha256:" + "a" * 64, size=1,
                                                            kind="bootstrap") for p in paths])


_BOOT = BootstrapPin(os="debian-12", arch="amd64", python="3.11", glibc="2.36", platform="cp311-x86_64",
                     airlock="0.1.0", requirements=["pip"])


@pytest.mark.parametrize(("lock", "paths", "message"), [
    (_lock(), ["bootstrap/install.sh"], "pins no bootstrap"),
    (_lock(bootstrap=_BOOT), ["bootstrap/../etc/passwd", "bootstrap/install.sh"], "unsafe bootstrap path"),
    (_lock(bootstrap=_BOOT), ["bootstrap/x/y/z", "bootstrap/install.sh"], "outside bootstrap/'s folders"),
    (_lock(bootstrap=_BOOT, bootstrap_wheel=[_wheel("pip", "25.0", "cp311-x86_64")]),
     ["bootstrap/install.sh", "bootstrap/SHA256SUMS"], "bootstrap/wheels/pip-25.0-py3-none-any.whl"),
])
def test_verify_bootstrap_rules(lock: Lock, paths: list[str], message: str) -> None:
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(".", r"\.")):
        check_bootstrap(lock, _index(*paths), "bundle.tar")


def test_pinned_bytes_must_be_the_locks() -> None:
    lock = _lock(bootstrap=_BOOT, bootstrap_wheel=[_wheel("pip", "25.0", "cp311-x86_64")])
    index = BundleIndex(lock_sha256="0" * 64, entries=[
        Entry(path="bootstrap/wheels/pip-25.0-py3-none-any.whl", digest="sha256:" + "b" * 64, size=1,
              kind="bootstrap"),
        Entry(path="bootstrap/install.sh", digest="sha256:" + "c" * 64, size=1, kind="bootstrap"),
        Entry(path="bootstrap/SHA256SUMS", digest="sha256:" + "d" * 64, size=1, kind="bootstrap")])
    with pytest.raises(BundleError, match="not the file the lock pins"):
        check_bootstrap(lock, index, "bundle.tar")


def test_venv_prefers_the_running_python() -> None:
    import platform

    from airlock.apply.venv import pick_platform

    mine = f"cp{sys.version_info.major}{sys.version_info.minor}-{platform.machine()}"
    lock = _lock(wheel=[_wheel("jmespath", "1.1.0", mine), _wheel("netaddr", "1.3.0", "cp39-s390x")])
    assert pick_platform(lock) == (mine, sys.executable)
    assert pick_platform(_lock(wheel=[_wheel("netaddr", "1.3.0", "cp39-s390x")])) is None


def test_serve_refuses_a_dir_that_is_not_a_site(tmp_path: Path) -> None:
    from airlock.cli import apply  # noqa: F401  (registers serve)

    res = CliRunner().invoke(cli, ["serve", str(tmp_path), "--listen", "127.0.0.1:8080"])
    assert res.exit_code == 2 and "not a site `airlock apply` made" in res.output


def test_fetch_refuses_a_bootstrap_of_another_airlock(tmp_path: Path) -> None:
    from airlock.bootstrap.folder import build
    from airlock.errors import AirlockError
    from airlock.store import Store

    lock = _lock(bootstrap=_BOOT.model_copy(update={"airlock": "0.0.1"}))
    with pytest.raises(AirlockError, match="runtime of airlock 0.0.1"):
        build(lock, Store(tmp_path), lambda *a: None)
