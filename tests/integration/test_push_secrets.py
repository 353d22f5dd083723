"""`apply --push` with a password: it reaches the registry and nothing else (no site file, no output)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import airlock as run_airlock
from tests.world.servers import DockerRegistry
from tests.world.world import World

pytestmark = pytest.mark.integration
USER, PASSWORD = "pusher", "Xy7-pa55word-never-written"
BODY = "images: [registry.k8s.io/airlock-test/single:1.0]\n"


def airlock(*args: str, cache: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_airlock(*args, cache=cache, stdin=stdin, env={"DOCKER_CONFIG": "/nonexistent"})


def files_containing(root: Path, secret: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes())


def test_push_password_is_used_and_never_written(world: World, tmp_path: Path) -> None:
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", BODY)
    cache = tmp_path / "c"
    assert airlock("resolve", "-f", str(manifest), cache=cache).returncode == 0
    bundle = tmp_path / "bundle.tar"
    assert airlock("fetch", "--lock", str(tmp_path / "airlock.lock"), "-o", str(bundle), cache=cache).returncode == 0
    with DockerRegistry(tmp_path / "reg", tmp_path / "reg-storage", "basic", users={USER: PASSWORD}) as reg:
        site = tmp_path / "site"
        inline = airlock("apply", str(bundle), "--dest", str(site), "--url", "http://10.0.0.5:8080",
                         "--push", f"{USER}:{PASSWORD}@{reg.host}/mirror", "--insecure-registry", "--json",
                         cache=cache)
        assert inline.returncode == 2 and "--registry-user" in inline.stderr
        assert PASSWORD not in inline.stdout + inline.stderr and not site.exists()

        ok = airlock("apply", str(bundle), "--dest", str(site), "--url", "http://10.0.0.5:8080",
                     "--push", f"{reg.host}/mirror", "--insecure-registry", "--registry-user", USER,
                     "--registry-password-stdin", "--json", cache=cache, stdin=PASSWORD + "\n")
        assert ok.returncode == 0, ok.stderr
        assert '"pushed"' in ok.stdout and PASSWORD not in ok.stdout + ok.stderr
        assert files_containing(site, PASSWORD) == []
        assert files_containing(site, f"{USER}:") == []
        assert (site / "inventory/group_vars/all/offline.yml").is_file()
