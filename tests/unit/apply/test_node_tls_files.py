"""A TLS site's client configurations: no insecure entry anywhere, each client names the CA file node setup
installs (one path, NODE_CA_PATH); a plain-HTTP site keeps its insecure entries and names no CA."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from airlock.apply.execute import ApplyOptions, site_for
from airlock.apply.node import NODE_CA_PATH, REGISTRY_CERTS_D, SETUP_SH, node_ca_files, node_setup_files
from airlock.apply.offline import Site
from airlock.apply.pypi import pip_conf
from airlock.apply.repos import node_repo_files
from airlock.apply.site import node_files
from airlock.kubespray.offline import containerd_mirror_vars
from tests.unit.lockfile.test_hostile_lock import full

PLAIN = Site("http://10.0.0.5:8080/files", "10.0.0.5:8080", True)
TLS = Site("https://admin.example:8443/files", "admin.example:8443", False, ca=NODE_CA_PATH, registry_ca=NODE_CA_PATH)
PUBLIC = Site("https://admin.example:8443/files", "admin.example:8443", False)  # a certificate the OS trusts


def test_site_for_names_the_ca_only_when_apply_ships_one(tmp_path: object) -> None:
    def site(url: str, **kw: object) -> Site:
        return site_for(ApplyOptions(dest=tmp_path, url=url, **kw))  # type: ignore[arg-type]

    assert site("http://10.0.0.5:8080").ca is None
    got = site("https://127.0.0.1:8443", tls_generate="localhost")
    assert got.ca == got.registry_ca == NODE_CA_PATH and not got.registry_plain
    pushed = site("https://127.0.0.1:8443", tls_generate="localhost", push="registry.example:5000/x")
    assert pushed.ca == NODE_CA_PATH and pushed.registry_ca is None  # not our registry: not our CA
    from tests.world.pki import make_private_ca

    pki = make_private_ca(Path(str(tmp_path)) / "pki")
    own = {"tls_cert": pki.server_cert, "tls_key": pki.server_key}
    assert site("https://127.0.0.1:8443", **own).ca is None  # a certificate the nodes' OS store must accept
    assert site("https://127.0.0.1:8443", **own, tls_ca=pki.ca_cert).registry_ca == NODE_CA_PATH


def test_containerd_hosts_toml_and_offline_vars() -> None:
    lock = full()
    tls = {k: v.decode() for k, v in node_files(lock, TLS).items() if k.endswith("hosts.toml")}
    assert tls and all(f'  ca = "{NODE_CA_PATH}"' in t and "skip_verify" not in t and "http://" not in t
                       for t in tls.values())
    plain = {k: v.decode() for k, v in node_files(lock, PLAIN).items() if k.endswith("hosts.toml")}
    assert all("skip_verify = true" in t and " ca = " not in t for t in plain.values())
    assert all("skip_verify" not in t and " ca = " not in t for k, v in node_files(lock, PUBLIC).items()
               if k.endswith("hosts.toml") for t in [v.decode()])
    assert containerd_mirror_vars(TLS)["containerd_registries_mirrors"] == [{
        "prefix": "admin.example:8443",
        "mirrors": [{"host": "https://admin.example:8443", "capabilities": ["pull", "resolve"], "ca": NODE_CA_PATH}]}]
    mirror = containerd_mirror_vars(PLAIN)["containerd_registries_mirrors"][0]["mirrors"][0]
    assert mirror["skip_verify"] is True and "ca" not in mirror


def test_dnf_apt_and_pip_name_the_ca() -> None:
    lock = full()
    lock = lock.model_copy(update={"deb": [SimpleNamespace(os="debian-12")]})
    files = {k: v.decode() for k, v in node_repo_files(lock, TLS).items()}
    repo = next(v for k, v in files.items() if k.endswith(".repo"))
    assert f"sslcacert={NODE_CA_PATH}\n" in repo and "sslverify=1\n" in repo
    assert files["node/apt/apt.conf.d/90airlock-ca"].count(f'Acquire::https::admin.example::CaInfo "{NODE_CA_PATH}";') == 1
    plain = node_repo_files(lock, PLAIN)
    assert "node/apt/apt.conf.d/90airlock-ca" not in plain and not any(b"sslcacert" in v for v in plain.values())
    assert "node/apt/apt.conf.d/90airlock-ca" not in node_repo_files(lock, PUBLIC)
    conf = pip_conf(TLS)["node/pip.conf"].decode()
    assert f"cert = {NODE_CA_PATH}\n" in conf and "trusted-host" not in conf
    assert "trusted-host = 10.0.0.5\n" in pip_conf(PLAIN)["node/pip.conf"].decode()
    assert "cert" not in pip_conf(PUBLIC)["node/pip.conf"].decode()


@pytest.mark.parametrize("site, expect", [(TLS, True), (PUBLIC, False), (PLAIN, False)])
def test_registry_certs_d_only_for_our_ca(site: Site, expect: bool) -> None:
    got = node_ca_files(site, b"PEM")
    assert got == ({f"{REGISTRY_CERTS_D}/admin.example:8443/ca.crt": b"PEM"} if expect else {})
    assert node_ca_files(site, None) == {}


def test_setup_scripts_install_the_ca_at_the_one_path() -> None:
    files = node_setup_files([], [])
    assert "@NODE_CA" not in SETUP_SH.replace("@NODE_CA_PATH@", "").replace("@NODE_CA_DIR@", "")
    for name in ("node/setup.sh", "node/site.yml"):
        text = files[name].decode()
        assert NODE_CA_PATH in text and "@NODE_CA" not in text, name
