from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
KUBESPRAY = SHARED / "kubespray"
VERSIONS = ("2.29.1", "2.30.0", "2.31.0")


def kubespray_dir(version: str) -> Path:
    path = KUBESPRAY / version
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
