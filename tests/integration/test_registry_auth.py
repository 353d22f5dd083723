"""Registry auth and transport security against real docker-registry variants sharing the world's storage."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import airlock as run_airlock
from tests.world.servers import DockerRegistry, TokenService
from tests.world.world import World

pytestmark = pytest.mark.integration
USER, PASSWORD = "puller", "s3cret-Pa55word"
BODY = "images: [registry.k8s.io/airlock-test/single:1.0]\n"


def airlock(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_airlock(*args, env={"AIRLOCK_RETRIES": "1", "DOCKER_CONFIG": "/nonexistent", **(env or {})})


def env_auth(host: str) -> dict[str, str]:
    return {"AIRLOCK_AUTH_" + host.replace(".", "_").replace(":", "_"): f"{USER}:{PASSWORD}"}


def assert_secret_free(tmp_path: Path, *results: subprocess.CompletedProcess[str]) -> None:
    for res in results:
        assert PASSWORD not in res.stdout + res.stderr
    lock = tmp_path / "airlock.lock"
    if lock.exists():
        text = lock.read_text()
        assert PASSWORD not in text and USER not in text


def test_basic_auth(world: World, tmp_path: Path) -> None:
    with DockerRegistry(tmp_path / "reg", world.storage, "basic", users={USER: PASSWORD}) as reg:
        manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", BODY, registry_url=reg.url)
        denied = airlock("resolve", "-f", str(manifest))
        assert denied.returncode == 2 and "requires credentials (401)" in denied.stderr
        assert "image " in denied.stderr and f"AIRLOCK_AUTH_127_0_0_1_{reg.port}" in denied.stderr
        wrong = airlock("resolve", "-f", str(manifest),
                        env={f"AIRLOCK_AUTH_127_0_0_1_{reg.port}": f"{USER}:wrong-{PASSWORD}"})
        assert wrong.returncode == 2 and "refused the credentials" in wrong.stderr
        ok = airlock("resolve", "-f", str(manifest), env=env_auth(reg.host))
        assert ok.returncode == 0, ok.stderr
        assert_secret_free(tmp_path, denied, wrong, ok)


def test_basic_auth_from_docker_config(world: World, tmp_path: Path) -> None:
    with DockerRegistry(tmp_path / "reg", world.storage, "basic", users={USER: PASSWORD}) as reg:
        cfg = tmp_path / "docker"
        cfg.mkdir()
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (cfg / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
        manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", BODY, registry_url=reg.url)
        ok = airlock("resolve", "-f", str(manifest), env={"DOCKER_CONFIG": str(cfg)})
        assert ok.returncode == 0, ok.stderr
        auth_file = tmp_path / "auth.json"
        auth_file.write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
        (tmp_path / "airlock.lock").unlink()
        ok2 = airlock("resolve", "-f", str(manifest), env={"REGISTRY_AUTH_FILE": str(auth_file)})
        assert ok2.returncode == 0, ok2.stderr
        assert_secret_free(tmp_path, ok, ok2)


@pytest.mark.parametrize("with_users", [False, True], ids=["anonymous-token", "credentialed-token"])
def test_bearer_token_flow(world: World, tmp_path: Path, with_users: bool) -> None:
    users = {USER: PASSWORD} if with_users else {}
    with TokenService(tmp_path / "tok", users) as tokens, \
            DockerRegistry(tmp_path / "reg", world.storage, "token", token_realm=tokens.realm,
                           token_cert=tokens.cert) as reg:
        manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", BODY, registry_url=reg.url)
        results = []
        if with_users:
            denied = airlock("resolve", "-f", str(manifest))
            assert denied.returncode == 2 and "token service" in denied.stderr and "refused" in denied.stderr
            results.append(denied)
        ok = airlock("resolve", "-f", str(manifest), env=env_auth(reg.host) if with_users else None)
        assert ok.returncode == 0, ok.stderr
        results.append(ok)
        assert any(r["scope"].startswith("repository:registry.k8s.io/") for r in tokens.requests)
        assert all(r["user"] == (USER if with_users else "") for r in tokens.requests if r["authorization"]) or \
            not with_users
        assert_secret_free(tmp_path, *results)


def test_tls_with_ca_file_and_certs_d(world: World, tmp_path: Path) -> None:
    with DockerRegistry(tmp_path / "reg", world.storage, "tls") as reg:
        assert reg.cert is not None
        manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", BODY, registry_url=reg.url)
        untrusted = airlock("resolve", "-f", str(manifest))
        assert untrusted.returncode == 2 and "not trusted" in untrusted.stderr and "--ca-file" in untrusted.stderr
        ok = airlock("resolve", "-f", str(manifest), "--ca-file", str(reg.cert))
        assert ok.returncode == 0, ok.stderr
        certs_d = tmp_path / "certs.d" / reg.host
        certs_d.mkdir(parents=True)
        (certs_d / "ca.crt").write_bytes(reg.cert.read_bytes())
        (tmp_path / "airlock.lock").unlink()
        ok2 = airlock("resolve", "-f", str(manifest), env={"AIRLOCK_CERTS_D": str(tmp_path / "certs.d")})
        assert ok2.returncode == 0, ok2.stderr


def test_plain_http_only_when_asked(world: World, tmp_path: Path) -> None:
    direct = f"{world.registry.host}/registry.k8s.io/airlock-test/single:1.0"
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", f"images: [\"{direct}\"]\n")
    refused = airlock("resolve", "-f", str(manifest))
    assert refused.returncode == 2 and f"image {direct}" in refused.stderr
    ok = airlock("resolve", "-f", str(manifest), "--insecure-registry", world.registry.host)
    assert ok.returncode == 0, ok.stderr
    assert f'ref = "{direct}"' in (tmp_path / "airlock.lock").read_text()


def test_docker_credential_helper_from_cred_helpers(world: World, tmp_path: Path) -> None:
    """credHelpers names docker-credential-airlocktest (a script the test puts on PATH)."""
    with DockerRegistry(tmp_path / "reg", world.storage, "basic", users={USER: PASSWORD}) as reg:
        bindir, cfg, asked = tmp_path / "bin", tmp_path / "docker", tmp_path / "asked.log"
        bindir.mkdir()
        cfg.mkdir()
        helper = bindir / "docker-credential-airlocktest"
        secret = json.dumps({"ServerURL": reg.host, "Username": USER, "Secret": PASSWORD})
        helper.write_text(f"#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread server\necho \"$server\" >> {asked}\n"
                          f"[ \"$server\" = {reg.host} ] && echo '{secret}' && exit 0\n"
                          "echo 'credentials not found in native keychain'; exit 1\n")
        helper.chmod(0o755)
        (cfg / "config.json").write_text(json.dumps({"auths": {reg.host: {}},
                                                     "credHelpers": {reg.host: "airlocktest"}}))
        manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", BODY, registry_url=reg.url)
        path = f"{bindir}{os.pathsep}{os.environ['PATH']}"
        ok = airlock("resolve", "-f", str(manifest), env={"DOCKER_CONFIG": str(cfg), "PATH": path})
        assert ok.returncode == 0, ok.stderr
        assert asked.read_text().splitlines() == [reg.host]  # asked once per host, not per request
        (tmp_path / "airlock.lock").unlink()
        (cfg / "config.json").write_text(json.dumps({"credsStore": "airlocktest"}))
        ok2 = airlock("resolve", "-f", str(manifest), env={"DOCKER_CONFIG": str(cfg), "PATH": path})
        assert ok2.returncode == 0, ok2.stderr
        (tmp_path / "airlock.lock").unlink()
        (cfg / "config.json").write_text(json.dumps({"credHelpers": {reg.host: "missing"}}))
        missing = airlock("resolve", "-f", str(manifest), env={"DOCKER_CONFIG": str(cfg), "PATH": path})
        assert missing.returncode == 2 and "docker-credential-missing, which is not on PATH" in missing.stderr
        assert_secret_free(tmp_path, ok, ok2, missing)
