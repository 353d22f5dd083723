"""OS trust store, docker credential helpers, resumable downloads (resolve and the Kubespray source)."""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airlock.errors import CredentialHelperError, KubesprayError, NetworkError
from airlock.net import http as nethttp
from airlock.net.auth import credentials
from airlock.net.http import Net, system_trust
from airlock.resolvers.files import FileRequest, FileResolver
from airlock.store import Store


def _ca_subjects(ctx: ssl.SSLContext) -> list[str]:
    return [dict(x[0] for x in c["subject"]).get("commonName", "") for c in ctx.get_ca_certs()]


def test_trust_falls_back_to_a_distribution_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    bundle = tmp_path / "ca-bundle.crt"
    pem = Path(certifi.where()).read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    bundle.write_text(pem)
    none = ssl.DefaultVerifyPaths(None, None, "SSL_CERT_FILE", "/x", "SSL_CERT_DIR", "/y")  # type: ignore[arg-type]  # no file and no dir: the case under test
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: none)
    monkeypatch.setattr(nethttp, "SYSTEM_BUNDLES", (str(tmp_path / "missing.pem"), str(bundle)))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert len(system_trust().get_ca_certs()) >= 1


def test_net_clients_use_the_os_store_not_only_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    monkeypatch.setattr(nethttp, "http_client", lambda transport, verify=True, **kw: built.append(verify) or object())
    Net().client("example.org")
    assert isinstance(built[0], ssl.SSLContext)  # httpx's verify=True would mean certifi's list only


@pytest.fixture
def helper_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    script = bindir / "docker-credential-airlocktest"
    script.write_text(f"""#!/bin/sh
[ "$1" = get ] || exit 3
read server
echo "$server" >> {log}
case "$server" in
  reg.example:5000) echo '{{"ServerURL":"reg.example:5000","Username":"robot","Secret":"s3cret"}}' ;;
  https://index.docker.io/v1/) echo '{{"ServerURL":"x","Username":"hubuser","Secret":"hubpass"}}' ;;
  broken.example) echo 'boom' >&2; exit 1 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield tmp_path


def test_cred_helpers_then_creds_store_then_auths(helper_env: Path) -> None:
    cfg = helper_env / "config.json"
    cfg.write_text(json.dumps({"credHelpers": {"reg.example:5000": "airlocktest"},
                               "auths": {"other.example": {"username": "inline", "password": "pw"},
                                         "id.example": {"identitytoken": "refresh"}}}))
    assert credentials("reg.example:5000") == ("robot", "s3cret")
    assert credentials("id.example") == ("<token>", "refresh")
    assert credentials("other.example") == ("inline", "pw")
    assert credentials("none.example") is None
    cfg.write_text(json.dumps({"credsStore": "airlocktest"}))
    assert credentials("registry-1.docker.io") == ("hubuser", "hubpass")  # asked for Docker Hub's v1 URL
    assert credentials("unknown.example") is None  # "credentials not found": anonymous
    assert (helper_env / "helper.log").read_text().splitlines() == [
        "reg.example:5000", "https://index.docker.io/v1/", "unknown.example"]


def test_failing_or_missing_helper_is_a_clear_error(helper_env: Path) -> None:
    cfg = helper_env / "config.json"
    cfg.write_text(json.dumps({"credHelpers": {"broken.example": "airlocktest", "gone.example": "nosuchhelper",
                                               "evil.example": "../../bin/sh"}}))
    with pytest.raises(CredentialHelperError, match="docker-credential-airlocktest failed for broken.example"):
        credentials("broken.example")
    with pytest.raises(CredentialHelperError, match="docker-credential-nosuchhelper, which is not on PATH"):
        credentials("gone.example")
    with pytest.raises(CredentialHelperError, match="not valid"):
        credentials("evil.example")


class _Dropping(httpx.SyncByteStream):
    """A chunked body that breaks after ``cut`` bytes (a dropped connection)."""

    def __init__(self, data: bytes, cut: int | None):
        self.data, self.cut = data, cut

    def __iter__(self) -> Iterator[bytes]:
        if self.cut is None:
            yield self.data
            return
        yield self.data[: self.cut]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


def _flaky_server(data: bytes, drops: int, honour_range: bool = True) -> tuple[httpx.MockTransport, list[str]]:
    ranges: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        rng = request.headers.get("Range", "")
        ranges.append(rng)
        start = int(rng.removeprefix("bytes=").rstrip("-")) if rng and honour_range else 0
        cut = len(data) // 3 if len(ranges) <= drops else None
        return httpx.Response(206 if start else 200, stream=_Dropping(data[start:], cut))  # no Content-Length

    return httpx.MockTransport(handler), ranges


@pytest.mark.parametrize("honour_range", [True, False])
def test_resolve_hashing_without_length_resumes_after_drops(tmp_path: Path, honour_range: bool) -> None:
    data = os.urandom(30000)
    transport, ranges = _flaky_server(data, drops=2, honour_range=honour_range)
    net = Net(transport=transport, retries=3, backoff=0.0)
    pin = FileResolver(net, {}).resolve(FileRequest("tool", "amd64", "https://files.test/tool", None, "tool", None))
    assert pin.sha256 == hashlib.sha256(data).hexdigest() and pin.size == len(data)
    assert len(ranges) == 3 and (ranges[1] != "" if honour_range else True)


def test_pinned_file_without_length_goes_through_the_store(tmp_path: Path) -> None:
    data = os.urandom(20000)
    sha = hashlib.sha256(data).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200)  # no Content-Length
        return handler2(request)

    inner, ranges = _flaky_server(data, drops=1)
    handler2 = inner.handler
    store = Store(tmp_path / "cache")
    net = Net(transport=httpx.MockTransport(handler), retries=2, backoff=0.0)
    pin = FileResolver(net, {}, store=store).resolve(
        FileRequest("tool", "amd64", "https://files.test/tool", f"sha256:{sha}", "tool", None))
    assert pin.size == len(data) and store.has("sha256:" + sha, len(data))  # fetch will find it cached
    assert ranges[1].startswith("bytes=")


def test_resolve_download_gives_up_after_retries() -> None:
    transport, _ = _flaky_server(b"x" * 3000, drops=99)
    net = Net(transport=transport, retries=1, backoff=0.0)
    with pytest.raises(NetworkError, match="kept failing after 2 attempts"):
        FileResolver(net, {}).resolve(FileRequest("tool", "amd64", "https://files.test/tool", None, "tool", None))


def test_kubespray_download_retries_and_disk_errors_are_not_network_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.kubespray import source

    data = os.urandom(5000)
    transport, ranges = _flaky_server(data, drops=1)
    monkeypatch.setenv("AIRLOCK_RETRIES", "2")
    monkeypatch.setenv("AIRLOCK_BACKOFF", "0")
    got = source._download("https://github.test/ks.tar.gz", {}, transport)
    assert got.read_bytes() == data and len(ranges) == 2
    cache = tmp_path / "ro-cache"
    cache.mkdir()
    monkeypatch.setenv("AIRLOCK_CACHE", str(cache))
    cache.chmod(0o500)
    try:
        if os.access(cache, os.W_OK):  # root ignores the mode: make the write fail another way
            monkeypatch.setattr(source, "_cached_download", lambda url: Path("/proc/airlock-no-such/x.tar.gz"))
        with pytest.raises(KubesprayError, match="cannot write the Kubespray download"):
            source._download("https://github.test/other.tar.gz", {}, transport)
    finally:
        cache.chmod(0o700)
