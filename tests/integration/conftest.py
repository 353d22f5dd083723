"""Session-wide test world: registry + nginx on 127.0.0.1, Kubespray fixture, generated images."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import KUBESPRAY, REPO
from tests.helpers import airlock as run_airlock  # the name this conftest's users import
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
def ansible_for(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], str]:
    """ansible-playbook of the ansible-core a Kubespray tree pins (2.16/2.17/2.18), each in a venv
    made from PyPI once per session (or reused from $AIRLOCK_ANSIBLE_VENVS)."""
    sys.path.insert(0, str(REPO / "tests" / "oracle"))
    from oracle import ansible_core_for, ansible_playbook_for

    venvs = Path(os.environ.get("AIRLOCK_ANSIBLE_VENVS") or tmp_path_factory.mktemp("ansible-venvs"))
    return lambda kubespray: ansible_playbook_for(ansible_core_for(kubespray), venvs)


@pytest.fixture(scope="session")
def ansible_playbook(ansible_for: Callable[[Path], str]) -> str:
    """ansible-playbook of ansible-core 2.17 (the pin of Kubespray 2.30.0, the world's release)."""
    return ansible_for(KUBESPRAY / "2.30.0")


def world_bundle(world: World, root: Path, body: str, *, version: str = "2.30.0",
                 run: Callable[..., subprocess.CompletedProcess[str]] = run_airlock) -> Path:
    """A real bundle of the test world: airlock.yaml with ``body``, resolved and fetched under ``root``."""
    manifest = world.manifest(root / "airlock.yaml", version, body)
    res = run("resolve", "-f", str(manifest), cache=root / "c")
    assert res.returncode == 0, res.stderr
    res = run("fetch", "--lock", str(root / "airlock.lock"), "-o", str(root / "bundle.tar"), cache=root / "c")
    assert res.returncode == 0, res.stderr
    return root / "bundle.tar"
