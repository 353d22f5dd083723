"""resolve, fetch and apply --push against a simulated Docker-Hub-like upstream and a token-auth docker-registry.

The upstream (tests/world/upstream.py) has a token service on its own port with short token lives,
a CDN refusing any Authorization, a registry front over the world's registry, and a private CA.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.lockfile import read_lock
from tests.helpers import airlock as run_airlock
from tests.world.images import build_image, shared_layer
from tests.world.servers import DockerRegistry, TokenService, need
from tests.world.upstream import Upstream
from tests.world.world import World

pytestmark = pytest.mark.integration
USER, PASSWORD = "mirror-bot", "t0ken-Pa55"
SHARED = ("quay.io/airlock-test/shared-a:1.0", "quay.io/airlock-test/shared-b:1.0")
BODY = f"images: [{SHARED[0]}, {SHARED[1]}]\n"
KUBESPRAY_PATH = "github.com/kubernetes-sigs/kubespray/archive/refs/tags/v2.30.0.tar.gz"


def airlock(*args: str, cache: Path, env: dict[str, str] | None = None, stdin: str | None = None,
            prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_airlock(*args, cache=cache, stdin=stdin, prefix=prefix, timeout=600,
                       env={"DOCKER_CONFIG": "/nonexistent", **(env or {})})


def _kubespray_tarball(world: World) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        tar.add(world.kubespray("2.30.0"), arcname="kubespray-2.30.0")
    return raw.getvalue()


@pytest.fixture(scope="module")
def upstream(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """The upstream, holding the world's images plus two that share a layer, and Kubespray as a tarball."""
    assert world.registry is not None
    root = tmp_path_factory.mktemp("upstream")
    base = shared_layer("airlock-shared-base", 8192)
    for ref in SHARED:
        name, tag = ref.rsplit(":", 1)
        src = build_image(root / "images" / name.rsplit("/", 1)[-1], "oci-index", seed=ref, tag=tag,
                          shared_layers=(base,))
        subprocess.run([need("skopeo"), "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
                        src, f"docker://{world.registry.host}/{name}:{tag}"], check=True, capture_output=True)
    with Upstream(root / "up", world.registry.url, ttl=60, users={USER: PASSWORD}) as up:
        up.files[KUBESPRAY_PATH] = _kubespray_tarball(world)
        yield up


def upstream_manifest(world: World, up: Upstream, path: Path, body: str = BODY) -> Path:
    """Images through the upstream; Kubespray by its release URL, mirrored to the upstream's CDN."""
    manifest = world.manifest(path, "2.30.0", body, registry_url=up.url,
                              extra_mirrors=[("https://github.com/kubernetes-sigs/kubespray",
                                              f"{up.cdn_url}/files/github.com/kubernetes-sigs/kubespray")])
    lines = manifest.read_text().splitlines()
    lines[0] = 'kubespray: {version: "2.30.0"}'
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_resolve_and_fetch_outliving_tokens_through_a_cdn(world: World, upstream: Upstream, tmp_path: Path) -> None:
    ca = str(upstream.ca.ca_cert)
    manifest = upstream_manifest(world, upstream, tmp_path / "airlock.yaml")
    upstream.drops[KUBESPRAY_PATH] = 1  # the Kubespray download breaks once: resumed through net/
    res = airlock("resolve", "-f", str(manifest), "--ca-file", ca, cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    assert upstream.count("cdn", "GET", f"/files/{KUBESPRAY_PATH}") == 2
    lock = read_lock(tmp_path / "airlock.lock")
    assert lock.kubespray.kind == "url" and {SHARED[0].split(":")[0], SHARED[1].split(":")[0]} <= {
        f"{i.ref.rsplit(':', 1)[0]}" for i in lock.image}
    tokens_before, cdn_before = len(upstream.tokens.requests), upstream.count("cdn", "GET", "/blobs/")
    # Every blob GET now takes 20 s of the upstream's clock: a token (60 s) lasts three blobs.
    upstream.advance_per_blob = 20.0
    try:
        res = airlock("fetch", "--lock", str(tmp_path / "airlock.lock"), "-o", str(tmp_path / "b.tar"),
                      "--ca-file", ca, "--concurrency", "1", cache=tmp_path / "fetch-cache")
    finally:
        upstream.advance_per_blob = 0.0
    assert res.returncode == 0, res.stderr
    blobs = upstream.count("cdn", "GET", "/blobs/") - cdn_before
    renewals = len(upstream.tokens.requests) - tokens_before
    assert blobs > 20 and renewals >= blobs // 3 - len(lock.image)  # the fetch outlived many tokens
    assert not any(auth for server, _, _, auth in upstream.log if server == "cdn")  # never leaked to the CDN
    assert upstream.count("registry", "HEAD", "/blobs/") == 0  # the lock gives size and digest: no HEADs


def test_file_without_length_is_resumed_at_resolve(world: World, upstream: Upstream, tmp_path: Path) -> None:
    pinned, unpinned = os.urandom(300_000), os.urandom(200_000)
    upstream.files.update({"nolength/pinned.bin": pinned, "nolength/unpinned.bin": unpinned})
    upstream.drops.update({"nolength/pinned.bin": 2, "nolength/unpinned.bin": 2})
    body = (f'files: [{{url: "https://downloads.example/pinned.bin", sha256: "{hashlib.sha256(pinned).hexdigest()}"}},'
            ' {url: "https://downloads.example/unpinned.bin"}]\n')
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", body,
                              extra_mirrors=[("https://downloads.example", f"{upstream.cdn_url}/files/nolength")])
    res = airlock("resolve", "-f", str(manifest), "--ca-file", str(upstream.ca.ca_cert), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    files = {f.url.rsplit("/", 1)[-1]: f for f in read_lock(tmp_path / "airlock.lock").file}
    assert (files["pinned.bin"].size, files["unpinned.bin"].size) == (len(pinned), len(unpinned))
    assert files["unpinned.bin"].sha256 == hashlib.sha256(unpinned).hexdigest()
    for name in ("pinned.bin", "unpinned.bin"):
        assert upstream.count("cdn", "GET", f"/files/nolength/{name}") == 3  # two drops, two resumes
    # the pinned file went through the shared cache: fetch needs no second download
    assert (tmp_path / "c" / "blobs" / "sha256" / hashlib.sha256(pinned).hexdigest()).is_file()


def test_persistent_429_asks_to_log_in_and_credentials_lift_it(world: World, upstream: Upstream,
                                                                tmp_path: Path) -> None:
    manifest = upstream_manifest(world, upstream, tmp_path / "airlock.yaml", "images: [quay.io/airlock-test/"
                                 "amd64-only:1.0]\n")
    upstream.rate_limit_anonymous = True
    try:
        ca = ["--ca-file", str(upstream.ca.ca_cert)]
        limited = airlock("resolve", "-f", str(manifest), *ca, cache=tmp_path / "c", env={"AIRLOCK_RETRIES": "1"})
        assert limited.returncode == 2, limited.stderr
        assert f"rate limited: log in to {upstream.host}" in limited.stderr and "Traceback" not in limited.stderr
        auth = {f"AIRLOCK_AUTH_127_0_0_1_{upstream.port}": f"{USER}:{PASSWORD}"}
        ok = airlock("resolve", "-f", str(manifest), *ca, cache=tmp_path / "c", env=auth)
        assert ok.returncode == 0, ok.stderr
    finally:
        upstream.rate_limit_anonymous = False


def _mount_namespace_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    prefix = [unshare, "--mount", "--propagation", "private"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot create a mount namespace here")
    return prefix


def test_private_ca_in_the_os_trust_store(world: World, upstream: Upstream, tmp_path: Path) -> None:
    """The CA only in the OS bundle (bind-mounted in a private mount namespace), SSL_CERT_FILE unset."""
    prefix = _mount_namespace_prefix()
    system_bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not Path(system_bundle).is_file():
        pytest.skip(f"{system_bundle} does not exist (not a Debian-style OS store)")
    bundle = tmp_path / "os-bundle.crt"
    bundle.write_bytes(upstream.ca.ca_cert.read_bytes())
    in_ns = [*prefix, "sh", "-c", f'mount --bind "$0" {system_bundle} && exec "$@"', str(bundle)]
    manifest = upstream_manifest(world, upstream, tmp_path / "airlock.yaml", "images: [quay.io/airlock-test/"
                                 "amd64-only:1.0]\n")
    untrusted = airlock("resolve", "-f", str(manifest), cache=tmp_path / "c")
    assert untrusted.returncode == 2 and "not trusted" in untrusted.stderr, untrusted.stderr
    ok = airlock("resolve", "-f", str(manifest), cache=tmp_path / "c", prefix=in_ns)
    assert ok.returncode == 0, ok.stderr
    fetched = airlock("fetch", "--lock", str(tmp_path / "airlock.lock"), "-o", str(tmp_path / "b.tar"),
                      cache=tmp_path / "c", prefix=in_ns)
    assert fetched.returncode == 0, fetched.stderr


def test_push_with_token_auth_and_a_shared_layer(world: World, upstream: Upstream, tmp_path: Path) -> None:
    ca = ["--ca-file", str(upstream.ca.ca_cert)]
    manifest = upstream_manifest(world, upstream, tmp_path / "airlock.yaml")
    assert airlock("resolve", "-f", str(manifest), *ca, cache=tmp_path / "c").returncode == 0
    res = airlock("fetch", "--lock", str(tmp_path / "airlock.lock"), "-o", str(tmp_path / "b.tar"), *ca,
                  cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    with TokenService(tmp_path / "tok", {USER: PASSWORD}, ttl=300) as tokens, \
            DockerRegistry(tmp_path / "reg", tmp_path / "reg-storage", "token", token_realm=tokens.realm,
                           token_cert=tokens.cert, access_log=True) as reg:
        args = ["apply", str(tmp_path / "b.tar"), "--dest", str(tmp_path / "site"), "--url", "http://127.0.0.1:9",
                "--push", f"{reg.host}/mirror", "--insecure-registry", "--registry-user", USER,
                "--registry-password-stdin", "--json"]
        first = airlock(*args, cache=tmp_path / "c", stdin=PASSWORD + "\n")
        assert first.returncode == 0, first.stderr
        pushed = json.loads(first.stdout)["pushed"]
        lock = read_lock(tmp_path / "site" / "airlock.lock")
        repos = {i.ref.rsplit(":", 1)[0] for i in lock.image}
        assert pushed["images"] == len(lock.image) and pushed["blobs_mounted"] >= 1  # the shared layer
        assert any(len(r["scopes"]) == 2 for r in tokens.requests)  # the mount asked for both repositories
        # one token per (realm, service, scopes): per repository, plus one per mount source
        assert len(tokens.requests) <= len(repos) + pushed["blobs_mounted"], len(tokens.requests)
        blobs = pushed["blobs_uploaded"] + pushed["blobs_mounted"] + pushed["blobs_present"]
        heads = len(reg.requests("HEAD"))
        assert heads <= blobs - pushed["blobs_mounted"], (heads, pushed)  # no HEAD before a mount
        print(f"push: {len(lock.image)} images, {len(repos)} repositories, {blobs} blobs: "
              f"{len(tokens.requests)} token requests, {heads} HEADs")
        for ref in SHARED:
            img = next(i for i in lock.image if i.ref == ref)
            out = subprocess.run([need("skopeo"), "inspect", "--raw", "--tls-verify=false", "--creds",
                                  f"{USER}:{PASSWORD}", f"docker://{reg.host}/mirror/{ref}"],
                                 capture_output=True, check=True)
            assert "sha256:" + hashlib.sha256(out.stdout).hexdigest() == img.target_digest
        tokens.ttl = 2  # the re-push with 2-second tokens: renewed as they run out, never a failure
        again = airlock(*args, cache=tmp_path / "c", stdin=PASSWORD + "\n")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["pushed"]["blobs_uploaded"] == 0
