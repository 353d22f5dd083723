from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from airlock.errors import AirlockError, NetworkError, RegistryError
from airlock.net.auth import credentials
from airlock.net.http import Net
from airlock.net.registry import Registry
from airlock.reference import parse_ref


@pytest.mark.parametrize(("ref", "registry", "repo", "tag", "api"), [
    ("nginx", "docker.io", "library/nginx", "latest", "registry-1.docker.io"),
    ("docker.io/library/nginx:1.29.4", "docker.io", "library/nginx", "1.29.4", "registry-1.docker.io"),
    ("docker.io/flannel/flannel:v0.27.3", "docker.io", "flannel/flannel", "v0.27.3", "registry-1.docker.io"),
    ("index.docker.io/rancher/x:1", "docker.io", "rancher/x", "1", "registry-1.docker.io"),
    ("registry.k8s.io/coredns/coredns:v1.12.1", "registry.k8s.io", "coredns/coredns", "v1.12.1", "registry.k8s.io"),
    ("127.0.0.1:5000/a/b:c", "127.0.0.1:5000", "a/b", "c", "127.0.0.1:5000"),
    ("localhost/a:1", "localhost", "a", "1", "localhost"),
])
def test_docker_naming_rules(ref: str, registry: str, repo: str, tag: str, api: str) -> None:
    r = parse_ref(ref)
    assert (r.registry, r.repository, r.tag, r.api_host) == (registry, repo, tag, api)


def test_digest_refs_and_invalid() -> None:
    d = "sha256:" + "a" * 64
    r = parse_ref(f"registry.k8s.io/pause@{d}")
    assert r.digest == d and r.reference == d and r.tag is None
    with pytest.raises(AirlockError):
        parse_ref("Registry.k8s.io/UPPER:1")


def test_credentials_env_then_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    token = base64.b64encode(b"u:p:with:colons").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": token}}}))
    assert credentials("registry-1.docker.io") == ("u", "p:with:colons")
    assert credentials("quay.io") is None
    monkeypatch.setenv("AIRLOCK_AUTH_QUAY_IO", "bot:tok")
    assert credentials("quay.io") == ("bot", "tok")


def test_retries_429_with_retry_after_and_5xx() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "0"})
        if len(calls) == 2:
            return httpx.Response(503)
        return httpx.Response(200, text="ok")

    net = Net(transport=httpx.MockTransport(handler), retries=3, backoff=0.0)
    assert net.request("GET", "https://h/x", what="t").text == "ok" and len(calls) == 3


def test_connect_errors_exhaust_retries() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    net = Net(transport=httpx.MockTransport(handler), retries=2, backoff=0.0)
    with pytest.raises(NetworkError, match="unreachable after 3 attempts"):
        net.request("GET", "https://h/x", what="file kubelet")


def test_manifest_digest_mismatch_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"mediaType":"application/vnd.oci.image.manifest.v1+json"}',
                              headers={"Docker-Content-Digest": "sha256:" + "0" * 64})

    reg = Registry(Net(transport=httpx.MockTransport(handler), retries=0))
    with pytest.raises(RegistryError, match="the registry said"):
        reg.manifest(parse_ref("quay.io/a/b:1"), "1", what="image quay.io/a/b:1")


@pytest.mark.parametrize(("ref", "canonical", "familiar"), [
    ("nginx:1.29", "docker.io/library/nginx:1.29", "nginx:1.29"),
    ("docker.io/flannel/flannel:v0.27.3", "docker.io/flannel/flannel:v0.27.3", "flannel/flannel:v0.27.3"),
    ("registry.k8s.io/pause@sha256:" + "b" * 64, "registry.k8s.io/pause@sha256:" + "b" * 64,
     "registry.k8s.io/pause@sha256:" + "b" * 64),
    ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
])
def test_canonical_and_familiar_forms(ref: str, canonical: str, familiar: str) -> None:
    r = parse_ref(ref)
    assert (r.canonical, r.familiar, str(r)) == (canonical, familiar, canonical)
    assert parse_ref(r.canonical) == r and parse_ref(r.familiar) == r
