"""What apply writes for TLS and nginx: certificate names, the nginx configuration, the systemd unit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airlock.apply.nginx import listen_address, nginx_conf
from airlock.apply.service import serve_unit
from airlock.apply.tls import node_ca_file, tls_names
from airlock.errors import UsageError


def test_tls_names_url_host_first_each_once() -> None:
    assert tls_names("10.0.0.5", "Admin.Example, 10.0.0.5,[fd00::5],") == ["10.0.0.5", "admin.example", "fd00::5"]
    for bad in ("a b", "-x.example", "x_y.example", "a..b"):
        with pytest.raises(UsageError):
            tls_names("10.0.0.5", bad)


def test_nginx_conf_is_deterministic_and_listens_where_the_url_points() -> None:
    dest = Path("/srv/site")
    conf = nginx_conf(dest, "http://10.0.0.5:8080")
    assert conf == nginx_conf(dest, "http://10.0.0.5:8080")
    text = conf.decode()
    assert "listen 10.0.0.5:8080;" in text and 'root "/srv/site";' in text and "ssl" not in text
    assert "index $airlock_pypi_index;" in text and "disable_symlinks on;" in text
    assert listen_address("https://admin.example") == "443" and listen_address("http://[fd00::5]:81") == "[fd00::5]:81"
    tls = nginx_conf(dest, "https://admin.example:8443", (Path("/k/c.crt"), Path("/k/c.key"))).decode()
    assert "listen 8443 ssl;" in tls and 'ssl_certificate_key "/k/c.key";' in tls
    assert b"server {" not in nginx_conf(Path("/srv/$site"), "http://10.0.0.5:8080")


def test_serve_unit_takes_tls_files_as_credentials() -> None:
    plain = serve_unit(Path("/srv/site"), "http://10.0.0.5:8080").decode()
    assert "--tls" not in plain and "LoadCredential" not in plain
    unit = serve_unit(Path("/srv/site"), "https://10.0.0.5:8443", (Path("/srv/site/admin/tls/server.crt"),
                                                                    Path("/srv/site/admin/tls/server.key"))).decode()
    assert "--listen 0.0.0.0:8443 --tls-cert %d/server.crt --tls-key %d/server.key" in unit
    assert "LoadCredential=server.key:/srv/site/admin/tls/server.key" in unit
    assert node_ca_file(Path("/srv/site")) == Path("/srv/site/node/ca.crt")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_accepts_the_tls_unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_LAUNCHER", sys.executable)  # ExecStart must name an existing program
    unit = tmp_path / "airlock-serve.service"
    unit.write_bytes(serve_unit(tmp_path / "site", "https://10.0.0.5:8443",
                                (tmp_path / "site/admin/tls/server.crt", tmp_path / "site/admin/tls/server.key")))
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert res.returncode == 0 and not res.stderr.strip(), res.stderr
