"""The test session's environment is the clean one tests/conftest.py makes, not the developer's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import LEAKY_ENV


def test_home_is_an_empty_directory_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = Path.home()
    assert home.is_relative_to(tmp_path_factory.getbasetemp())
    assert not (home / ".docker" / "config.json").exists()
    assert not (home / ".config" / "containers" / "auth.json").exists()


def test_no_proxy_trust_or_credential_variables() -> None:
    assert [n for n in LEAKY_ENV if n in os.environ] == []
    assert [n for n in os.environ if n.startswith("AIRLOCK_AUTH_")] == []
    assert {"https_proxy", "HTTPS_PROXY", "SSL_CERT_FILE", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE"} <= set(LEAKY_ENV)
