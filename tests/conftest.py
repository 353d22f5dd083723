from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
KUBESPRAY = SHARED / "kubespray"
# Every supported release airlock is tested on; "master" is the newest master-<commit> snapshot.
VERSIONS = ("2.27.1", "2.28.1", "2.29.1", "2.30.0", "2.31.0", "master")
# The version a release's own galaxy.yml states (what kubespray.version must say for that tree).
RELEASE_VERSION = {"master": "2.32.0"}


def kubespray_dir(version: str) -> Path:
    found = sorted(KUBESPRAY.glob("master-*")) if version == "master" else [KUBESPRAY / version]
    path = found[-1] if found else KUBESPRAY / version
    if not (path / "roles").is_dir():
        pytest.skip(f"Kubespray {version} data not found at {path} (../shared beside the repo)")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every test session gets its own cache so no test reads another machine's state.
    monkeypatch.setenv("AIRLOCK_CACHE", str(tmp_path_factory.getbasetemp() / "airlock-cache"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("AIRLOCK_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set AIRLOCK_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
