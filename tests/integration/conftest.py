"""Session-wide test world: registry + nginx on 127.0.0.1, Kubespray fixture, generated images."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import KUBESPRAY
from tests.world.world import DEFAULT_CASES, World


def _missing_tools() -> list[str]:
    return [b for b in ("docker-registry", "skopeo", "nginx", "htpasswd", "openssl", "containerd", "ctr", "rpmbuild",
                        "dnf", "dpkg-scanpackages", "apt-get")
            if not (shutil.which(b) or shutil.which(b, path="/usr/sbin"))]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not (KUBESPRAY / "2.30.0").is_dir():
        pytest.skip("Kubespray data not found in ../shared/kubespray")
    missing = _missing_tools()
    if missing:
        pytest.fail(f"integration tools missing: {', '.join(missing)} (bash .ci/run installs them)")
    w = World(tmp_path_factory.mktemp("world"), list(DEFAULT_CASES)).build().start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="session")
def ansible_playbook(tmp_path_factory: pytest.TempPathFactory) -> str:
    """ansible-playbook of ansible-core 2.17 (Kubespray's pin) in a throwaway venv (needs PyPI)."""
    venv = tmp_path_factory.mktemp("ansible-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "ansible-core==2.17.*"], check=True)
    return str(venv / "bin" / "ansible-playbook")
