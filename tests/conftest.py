from __future__ import annotations

import os
from collections.abc import Iterator
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


# What airlock (or httpx, or a credential lookup) reads from the environment that would make a test's
# result depend on the machine it runs on: proxies, trust stores, registry credentials.
LEAKY_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
             "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "DOCKER_CONFIG",
             "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "AIRLOCK_CERTS_D")


@pytest.fixture(scope="session", autouse=True)
def _clean_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees the developer's ~/.docker/config.json, ~/.config/containers/auth.json, proxies or CA
    settings. Session-scoped so the session fixtures (the test world's servers) are isolated too. HOME is
    an empty directory; a test whose tool needs state there (gpg, podman, pip) sets its own (GNUPGHOME,
    XDG_RUNTIME_DIR, a tmp HOME) in the environment it passes to that tool."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("home")
        mp.setenv("HOME", str(home))
        for name in LEAKY_ENV:
            mp.delenv(name, raising=False)
        for name in [n for n in os.environ if n.startswith("AIRLOCK_AUTH_")]:
            mp.delenv(name)
        yield


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A URL on 127.0.0.1 whose connections are refused (see tests.helpers.refused_url)."""
    from tests.helpers import refused_url

    with refused_url() as url:
        yield url


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
