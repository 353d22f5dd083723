"""HTTPS and nginx for a real site: `apply --url https://... --tls-generate`, `serve --tls-cert/--tls-key`,
and the nginx configuration apply writes, each used by real clients (curl, pip, skopeo, dnf, Python)
that trust ONLY the site's generated CA file."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.apply.tls import NODE_CA, node_ca_file, server_files
from airlock.lockfile import read_lock
from tests.integration.conftest import run_airlock as airlock
from tests.integration.conftest import world_bundle
from tests.world.servers import free_port, need
from tests.world.world import World

pytestmark = pytest.mark.integration
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
BODY = ("os: [rocky-10]\narch: [amd64]\npackages: [alpha]\nimages: [ghcr.io/airlock-test/multi:2.0]\n"
        f'python: {{version: "{PY}", index_url: "https://pypi.fixture.example/simple/", requirements: ["top-a"]}}\n')


@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_bundle(world, tmp_path_factory.mktemp("tlsbundle"), BODY)


def _apply(bundle: Path, site: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return airlock("apply", str(bundle), "--dest", str(site), "--url", url, "--no-venv", *extra,
                   cache=site.parent / "c")


def _wait_tls(port: int, proc: subprocess.Popen[bytes], ca: Path) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/v2/", context=ctx, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("airlock serve over TLS did not come up") from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def tls_site(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("tlssite")
    port = free_port()
    res = _apply(bundle, root / "site", f"https://127.0.0.1:{port}", "--tls-generate", "localhost")
    assert res.returncode == 0, res.stderr
    cert, key = server_files(root / "site")
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(root / "site"), "--listen",
                             f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key)], stderr=log)
    try:
        _wait_tls(port, proc, node_ca_file(root / "site"))
        yield root / "site", port
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert "https://127.0.0.1" in (root / "serve.log").read_text()


def test_generated_material_private_keys_and_unit(tls_site: tuple[Path, int]) -> None:
    site, port = tls_site
    tls = site / "admin" / "tls"
    assert stat.S_IMODE(tls.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tls.iterdir()} == {
        "ca.crt": 0o644, "ca.key": 0o600, "server.crt": 0o644, "server.key": 0o600}
    assert (site / NODE_CA).read_bytes() == (tls / "ca.crt").read_bytes()
    written = [p for top in ("node", "inventory", "admin", "pypi") for p in (site / top).rglob("*")
               if p.is_file() and tls not in p.parents]
    assert written and not any(b"PRIVATE KEY" in p.read_bytes() for p in written)
    unit = (site / "admin/airlock-serve.service").read_text()
    assert f"LoadCredential=server.key:{tls / 'server.key'}" in unit
    assert "--tls-cert %d/server.crt --tls-key %d/server.key" in unit
    offline = (site / "inventory/group_vars/all/offline.yml").read_text()
    assert f"https://127.0.0.1:{port}/files" in offline and f"http://127.0.0.1:{port}" not in offline
    ctx = ssl.create_default_context(cafile=str(site / NODE_CA))
    for private in ("/admin/tls/server.key", "/admin/tls/ca.key", "/node/../admin/tls/ca.key"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"https://127.0.0.1:{port}{private}", context=ctx)
        assert err.value.code == 404
    served_ca = urllib.request.urlopen(f"https://127.0.0.1:{port}/{NODE_CA}", context=ctx).read()
    assert served_ca == (site / NODE_CA).read_bytes()


def test_curl_pip_skopeo_and_python_trust_only_the_site_ca(tls_site: tuple[Path, int], tmp_path: Path) -> None:
    site, port = tls_site
    ca = site / NODE_CA
    lock = read_lock(site / "airlock.lock")
    base = f"https://127.0.0.1:{port}"
    f = lock.file[0]
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SSL_", "CURL_", "REQUESTS_", "PIP_"))}
    out = subprocess.run(["curl", "-sSf", "--cacert", str(ca), "-r", "0-9", f"{base}/files/{f.path}"],
                         capture_output=True, env=env)
    assert out.returncode == 0 and len(out.stdout) == 10, out.stderr
    out = subprocess.run(["curl", "-sSf", "--cacert", str(ca), f"{base}/files/{f.path}"], capture_output=True, env=env)
    assert hashlib.sha256(out.stdout).hexdigest() == f.sha256  # above 64 KiB: asyncio's sendfile fallback over TLS
    untrusted = subprocess.run(["curl", "-sS", f"{base}/files/{f.path}"], capture_output=True, env=env)
    assert untrusted.returncode == 60  # the site CA is in no system store: verification fails without --cacert
    pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", "install", "--no-cache-dir",
           "--target", str(tmp_path / "t"), "--index-url", f"{base}/pypi/simple/", "top-a"]
    res = subprocess.run([*pip[:4], "--cert", str(ca), *pip[4:]], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert any(p.name.startswith("top_a-") for p in (tmp_path / "t").iterdir())
    certs = tmp_path / "certs.d"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(ca.read_bytes())
    img = lock.image[0]
    res = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", str(certs), f"docker://127.0.0.1:{port}/{img.ref}"],
                         capture_output=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "sha256:" + hashlib.sha256(res.stdout).hexdigest() == img.target_digest
    res = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", str(tmp_path), f"docker://127.0.0.1:{port}/{img.ref}"],
                         capture_output=True, text=True, env=env)
    assert res.returncode != 0 and "certificate" in res.stderr
    from airlock.errors import NetworkError
    from airlock.net.http import Net

    net = Net(ca_file=str(ca), retries=0)  # airlock's own client, as resolve/fetch --ca-file use it
    try:
        resp = net.request("GET", f"{base}/v2/{img.ref.rsplit(':', 1)[0]}/tags/list", what="tags")
        assert resp.status_code == 200 and img.ref.rsplit(":", 1)[1] in resp.json()["tags"]
    finally:
        net.close()
    with pytest.raises(NetworkError, match="not trusted"):
        Net(retries=0).request("GET", f"{base}/v2/", what="site")
    import httpx

    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca))) as client:
        page = client.get(f"{base}/pypi/simple/top-a/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        assert page.headers["content-type"] == "application/vnd.pypi.simple.v1+json" and page.json()["name"] == "top-a"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/v2/", verify=True)  # certifi's public roots do not know the site CA


def test_reapply_keeps_the_ca_and_reissues_only_for_new_names(bundle: Path, tls_site: tuple[Path, int],
                                                               tmp_path: Path) -> None:
    site = tmp_path / "site"
    url = f"https://127.0.0.1:{free_port()}"
    assert _apply(bundle, site, url, "--tls-generate", "admin.example").returncode == 0
    before = {p.name: p.read_bytes() for p in (site / "admin/tls").iterdir()}
    res = _apply(bundle, site, url, "--tls-generate", "admin.example")
    assert res.returncode == 0 and "up to date" in res.stdout, res.stdout
    assert {p.name: p.read_bytes() for p in (site / "admin/tls").iterdir()} == before
    res = _apply(bundle, site, url, "--tls-generate", "admin.example,10.0.0.5")
    assert res.returncode == 0 and "admin/tls" in res.stdout, res.stdout
    after = {p.name: p.read_bytes() for p in (site / "admin/tls").iterdir()}
    assert after["ca.crt"] == before["ca.crt"] and after["ca.key"] == before["ca.key"]
    assert after["server.key"] != before["server.key"]
    from cryptography import x509

    san = x509.load_pem_x509_certificate(after["server.crt"]).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert sorted(map(str, san.get_values_for_type(x509.IPAddress))) == ["10.0.0.5", "127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["admin.example"]
    (site / "admin/tls/server.key").unlink()  # lost: made anew, the CA stays
    assert _apply(bundle, site, url, "--tls-generate", "admin.example,10.0.0.5").returncode == 0
    assert (site / "admin/tls/ca.crt").read_bytes() == before["ca.crt"] and (site / "admin/tls/server.key").is_file()


def test_own_certificate_goes_into_the_unit_and_its_ca_to_the_nodes(bundle: Path, tmp_path: Path) -> None:
    from tests.world.pki import make_private_ca

    pki = make_private_ca(tmp_path / "pki")
    site = tmp_path / "site"
    res = _apply(bundle, site, "https://127.0.0.1:8443", "--tls-cert", str(pki.server_cert), "--tls-key",
                 str(pki.server_key), "--tls-ca", str(pki.ca_cert))
    assert res.returncode == 0, res.stderr
    assert (site / NODE_CA).read_bytes() == pki.ca_cert.read_bytes() and not (site / "admin/tls").exists()
    unit = (site / "admin/airlock-serve.service").read_text()
    assert f"LoadCredential=server.key:{pki.server_key}" in unit and f"LoadCredential=server.crt:{pki.server_cert}" in unit
    assert f'ssl_certificate_key "{pki.server_key}";' in (site / "admin/nginx/airlock.conf").read_text()
    assert f"--tls-cert {pki.server_cert} --tls-key {pki.server_key}" in res.stdout
    wrong = _apply(bundle, tmp_path / "other", "https://127.0.0.1:8443", "--tls-cert", str(pki.server_cert),
                   "--tls-key", str(pki.server_cert))
    assert wrong.returncode == 2 and "not a usable certificate and key" in wrong.stderr


@pytest.mark.parametrize("args, message", [
    (["--url", "https://127.0.0.1:8443"], "needs a server certificate"),
    (["--url", "http://127.0.0.1:8080", "--tls-generate", "a.example"], "need --url https://"),
    (["--url", "https://127.0.0.1:8443", "--tls-generate", "bad_name!"], "neither a host name nor an IP"),
    (["--url", "https://127.0.0.1:8443", "--tls-cert", "/nonexistent.crt", "--tls-key", "/nonexistent.key"],
     "--tls-cert /nonexistent.crt"),
])
def test_bad_tls_flags_exit_2_before_reading_the_bundle(tmp_path: Path, args: list[str], message: str) -> None:
    res = airlock("apply", str(tmp_path / "missing.tar"), "--dest", str(tmp_path / "site"), *args, cache=tmp_path / "c")
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "site").exists()


# -- nginx ---------------------------------------------------------------------------------------


class SiteNginx:
    """Real nginx, unprivileged config paths, including the airlock.conf apply wrote (listening on --url's 127.0.0.1)."""

    def __init__(self, site: Path, workdir: Path):
        self.site, self.workdir = site, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SiteNginx:
        w = self.workdir
        (w / "tmp").mkdir(parents=True)
        conf = w / "nginx.conf"
        conf.write_text(f"""worker_processes 1;
user root root;  # the site lives in a private temp dir; ignored when not started as root
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {w}/tmp/body; proxy_temp_path {w}/tmp/proxy; fastcgi_temp_path {w}/tmp/fcgi;
  uwsgi_temp_path {w}/tmp/uwsgi; scgi_temp_path {w}/tmp/scgi;
  include {self.site}/admin/nginx/airlock.conf;
}}
""")
        check = subprocess.run([need("nginx"), "-t", "-p", str(w), "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([need("nginx"), "-p", str(w), "-c", str(conf), "-g", "daemon off;"],
                                     stderr=(w / "stderr.log").open("w"))
        return self

    def wait(self, port: int) -> None:
        deadline = time.monotonic() + 15
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert self.proc is not None and self.proc.poll() is None, (self.workdir / "stderr.log").read_text()
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


def test_nginx_serves_the_static_site_to_pip_dnf_and_curl(bundle: Path, tmp_path: Path) -> None:
    port = free_port()
    site = tmp_path / "site"
    assert _apply(bundle, site, f"http://127.0.0.1:{port}").returncode == 0
    conf = (site / "admin/nginx/airlock.conf").read_text()
    assert f"listen 127.0.0.1:{port};" in conf and "ssl" not in conf
    lock = read_lock(site / "airlock.lock")
    base = f"http://127.0.0.1:{port}"
    with SiteNginx(site, tmp_path / "nginx") as nginx:
        nginx.wait(port)
        f = lock.file[0]
        out = subprocess.run(["curl", "-sSf", "-D", "-", "-o", str(tmp_path / "part"), "-r", "10-19",
                              f"{base}/files/{f.path}"], capture_output=True, text=True)
        assert out.returncode == 0 and " 206 " in out.stdout.splitlines()[0], out.stdout + out.stderr
        whole = subprocess.run(["curl", "-sSf", f"{base}/files/{f.path}"], capture_output=True)
        assert hashlib.sha256(whole.stdout).hexdigest() == f.sha256
        assert (tmp_path / "part").read_bytes() == whole.stdout[10:20]
        # PEP 691: JSON when asked for, else HTML; Vary either way
        req = urllib.request.Request(f"{base}/pypi/simple/top-a/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        resp = urllib.request.urlopen(req)
        assert resp.headers["Content-Type"] == "application/vnd.pypi.simple.v1+json" and resp.headers["Vary"] == "Accept"
        assert json.loads(resp.read())["name"] == "top-a"
        resp = urllib.request.urlopen(f"{base}/pypi/simple/top-a/")
        assert resp.headers["Content-Type"].startswith("text/html") and b"#sha256=" in resp.read()
        for private in ("/admin/nginx/airlock.conf", "/.airlock/state.json", "/oci/index.json", "/airlock.lock",
                        "/files/../airlock.lock"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + private)
            assert err.value.code in (400, 404), private
        res = subprocess.run([sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", "install",
                              "--no-cache-dir", "--target", str(tmp_path / "t"), "--index-url", f"{base}/pypi/simple/",
                              "top-a"], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        assert any(p.name.startswith("top_a-") for p in (tmp_path / "t").iterdir())
        repos = tmp_path / "repos"
        repos.mkdir()
        (repos / "airlock.repo").write_bytes((site / "node/yum.repos.d/airlock-rocky-10.repo").read_bytes())
        res = subprocess.run(["dnf", "-y", f"--installroot={tmp_path / 'root'}", f"--setopt=reposdir={repos}",
                              f"--setopt=cachedir={tmp_path / 'dnfcache'}", "--releasever=10", "--forcearch=x86_64",
                              "--setopt=install_weak_deps=False", "--nogpgcheck", "install", "--downloadonly", "alpha"],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        got = {p.name for p in (tmp_path / "dnfcache").rglob("*.rpm")}
        assert "alpha" in " ".join(got) and got <= {r.url.rsplit("/", 1)[-1] for r in lock.rpm}


def test_nginx_over_tls_with_the_generated_certificate(bundle: Path, tmp_path: Path) -> None:
    port = free_port()
    site = tmp_path / "site"
    assert _apply(bundle, site, f"https://127.0.0.1:{port}", "--tls-generate", "localhost").returncode == 0
    conf = (site / "admin/nginx/airlock.conf").read_text()
    cert, key = server_files(site)
    assert f"listen 127.0.0.1:{port} ssl;" in conf and f'ssl_certificate_key "{key}";' in conf
    with SiteNginx(site, tmp_path / "nginx") as nginx:
        nginx.wait(port)
        f = read_lock(site / "airlock.lock").file[0]
        out = subprocess.run(["curl", "-sSf", "--cacert", str(node_ca_file(site)), f"https://localhost:{port}/files/{f.path}",
                              "--resolve", f"localhost:{port}:127.0.0.1"], capture_output=True)
        assert out.returncode == 0 and hashlib.sha256(out.stdout).hexdigest() == f.sha256, out.stderr
        assert subprocess.run(["curl", "-sS", f"https://127.0.0.1:{port}/node/ca.crt"], capture_output=True).returncode == 60
