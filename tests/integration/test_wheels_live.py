"""Against real PyPI: airlock's wheel set equals what `pip download` selects for the same target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airlock.net.http import Net
from airlock.resolvers.pypi import Index
from airlock.resolvers.wheels import Target, manylinux_platforms, resolve_wheels
from tests.conftest import VERSIONS, kubespray_dir

pytestmark = pytest.mark.network


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("python", ["3.12", "3.11"])
@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_same_wheels_as_pip_download(tmp_path: Path, version: str, python: str, arch: str) -> None:
    reqs = kubespray_dir(version) / "requirements.txt"
    lines = [ln.split("#", 1)[0].strip() for ln in reqs.read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    target = Target(python, "2.34", arch)
    pins = resolve_wheels(Index(Net(), "https://pypi.org/simple/", {}), lines, [target])
    platforms = [a for p in manylinux_platforms("2.34", arch) for a in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", *platforms,
                    "--python-version", python, "--implementation", "cp", "-d", str(tmp_path / "d"),
                    "-r", str(reqs)], check=True, capture_output=True)
    assert {p.filename for p in pins} == {f.name for f in (tmp_path / "d").iterdir()}
