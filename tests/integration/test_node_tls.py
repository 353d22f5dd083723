"""A site served over TLS (``airlock serve`` with the CA ``apply --tls-generate`` made) and nodes that trust it only
through files airlock wrote.

A node is a throwaway root configured by the site's own ``node/setup.sh`` (and, for the same files, node/site.yml).
Each client then runs in a private mount namespace whose /etc is that root's /etc laid over the host's
(read-only overlayfs): the client reads exactly the absolute paths airlock's configurations name
(``/etc/airlock/ca.crt``, ``/etc/containers/certs.d/...``, ``/etc/pip.conf``...) while the host's own trust store
knows nothing of the site's CA, and nothing on the host changes. ctr (with Kubespray's own rendered hosts.toml),
podman (with Kubespray's rendered CRI-O registries), dnf, apt and pip fetch from the site over https; ctr and pip
fail once the CA line airlock wrote is taken out.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from airlock.apply.node import NODE_CA_PATH, REGISTRY_CERTS_D
from airlock.apply.tls import NODE_CA, node_ca_file, server_files
from airlock.lockfile import Lock, read_lock
from tests.integration.conftest import run_airlock as airlock
from tests.integration.conftest import world_bundle
from tests.integration.test_node import fake_debian, fake_rocky, render_templates, site_files, tree
from tests.world.aptroot import apt_options, layout
from tests.world.servers import free_port, need
from tests.world.world import World

pytestmark = pytest.mark.integration
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
BODY = ("os: [rocky-10, debian-12]\narch: [amd64]\npackages: [alpha]\n"
        f'python: {{version: "{PY}", index_url: "https://pypi.fixture.example/simple/", requirements: ["top-a"]}}\n')
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.upper().startswith(("SSL_", "CURL_", "REQUESTS_", "PIP_", "HTTP", "NO_PROXY"))}


class TlsSite:
    def __init__(self, site: Path, url: str):
        self.site, self.url = site, url
        self.host = url.split("://", 1)[1]
        self.lock: Lock = read_lock(site / "airlock.lock")
        self.ca = node_ca_file(site)


@pytest.fixture(scope="module")
def tls(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSite]:
    root = tmp_path_factory.mktemp("nodetls")
    bundle = world_bundle(world, root, BODY)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    res = airlock("apply", str(bundle), "--dest", str(root / "site"), "--url", url, "--no-venv",
                  "--tls-generate", "localhost", cache=root / "c")
    assert res.returncode == 0, res.stderr
    cert, key = server_files(root / "site")
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(root / "site"), "--listen",
                             f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key)],
                            stderr=(root / "serve.log").open("w"))
    ctx = ssl.create_default_context(cafile=str(node_ca_file(root / "site")))
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/v2/", context=ctx, timeout=1)
                break
            except OSError:
                assert proc.poll() is None, (root / "serve.log").read_text()
                subprocess.run(["sleep", "0.05"], check=True)
        yield TlsSite(root / "site", url)
    finally:
        proc.terminate()
        proc.wait(10)


def download_node(tls: TlsSite, into: Path) -> Path:
    """node/ as a node gets it: over https from the site, trusting node/ca.crt (copied to the node beforehand)."""
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    for rel in site_files(tls.site, "node"):
        with urllib.request.urlopen(f"{tls.url}/{rel}", context=ctx) as resp:
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            (into / rel).write_bytes(resp.read())
    return into / "node"


def node_root(tls: TlsSite, tmp_path: Path, *, debian: bool = False) -> Path:
    node = download_node(tls, tmp_path / "dl")
    root = (fake_debian if debian else fake_rocky)(tmp_path / "root")
    res = subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(root)},
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return root


def on_node(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """ARGV in a private mount namespace whose /etc is ROOT/etc over the host's /etc (read-only overlay)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    script = 'mount -t overlay overlay -o "lowerdir=$0/etc:/etc" /etc && exec "$@"'
    user = [] if os.geteuid() == 0 else ["--map-root-user"]  # a mount namespace needs (namespaced) root
    res = subprocess.run(["unshare", *user, "--mount", "--propagation", "private", "sh", "-c", script, str(root),
                          *argv], capture_output=True, text=True, env=env or CLEAN_ENV, check=False)
    if "mount:" in res.stderr and "overlay" in res.stderr:
        pytest.skip(f"overlayfs in a mount namespace is not available here: {res.stderr.strip()[-300:]}")
    return res


def test_nothing_insecure_and_every_client_names_the_ca(tls: TlsSite) -> None:
    site = tls.site
    offline = yaml.safe_load((site / "inventory/group_vars/all/offline.yml").read_text())
    text = (site / "inventory/group_vars/all/offline.yml").read_text()
    assert "skip_verify" not in text and "insecure" not in text and "http://" not in text
    assert offline["containerd_registries_mirrors"] == [{"prefix": tls.host, "mirrors": [{
        "host": f"https://{tls.host}", "capabilities": ["pull", "resolve"], "ca": NODE_CA_PATH}]}]
    hosts = sorted((site / "node/containerd/certs.d").rglob("hosts.toml"))
    assert hosts and all(f'ca = "{NODE_CA_PATH}"' in p.read_text() and "skip_verify" not in p.read_text()
                         and "http://" not in p.read_text() for p in hosts)
    registries = (site / "node/containers/registries.conf.d/airlock.conf").read_text()
    assert "insecure = true" not in registries and "insecure = false" in registries
    assert f"sslcacert={NODE_CA_PATH}\n" in (site / "node/yum.repos.d/airlock-rocky-10.repo").read_text()
    assert f'Acquire::https::127.0.0.1::CaInfo "{NODE_CA_PATH}";' in (site / "node/apt/apt.conf.d/90airlock-ca").read_text()
    pip = (site / "node/pip.conf").read_text()
    assert f"cert = {NODE_CA_PATH}\n" in pip and "trusted-host" not in pip
    assert (site / REGISTRY_CERTS_D / tls.host / "ca.crt").read_bytes() == (site / NODE_CA).read_bytes()


def test_setup_sh_and_the_playbook_install_the_ca_alike(tls: TlsSite, tmp_path: Path, ansible_playbook: str) -> None:
    ca = tls.ca.read_bytes()
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "ANSIBLE_HOME": str(tmp_path / "ansible-home")}
    for os_name, fake, anchor in (("rocky-10", fake_rocky, "etc/pki/ca-trust/source/anchors/airlock-ca.crt"),
                                  ("debian-12", fake_debian, "usr/local/share/ca-certificates/airlock-ca.crt")):
        by_script = node_root(tls, tmp_path / os_name, debian=os_name == "debian-12")
        for rel in (NODE_CA_PATH.lstrip("/"), anchor, f"etc/containers/certs.d/{tls.host}/ca.crt",
                    f"etc/docker/certs.d/{tls.host}/ca.crt"):
            assert (by_script / rel).read_bytes() == ca, rel
        assert ((by_script / "etc/apt/apt.conf.d/90airlock-ca").is_file()) == (os_name == "debian-12")
        by_playbook = fake(tmp_path / os_name / "by-playbook")
        run = subprocess.run([ansible_playbook, "-i", "localhost,", "-c", "local",
                              str(tmp_path / os_name / "dl/node/site.yml"), "-e", f"airlock_root={by_playbook}",
                              "-e", f"airlock_os={os_name}",
                              "-e", f"ansible_python_interpreter={Path(ansible_playbook).parent / 'python'}"],
                             capture_output=True, text=True, env=env, check=False)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert tree(by_playbook) == tree(by_script), os_name


def render_kubespray(tls: TlsSite, tmp_path: Path, ansible_playbook: str) -> Path:
    """Kubespray's own containerd, CRI-O and Docker templates, rendered by real ansible-core from what offline.yml
    carries for this TLS site (containerd: offline.yml itself; CRI-O and Docker: the variables apply writes
    with ``container_manager: crio`` / ``docker``, for the site exactly as apply builds it)."""
    from airlock.apply.execute import ApplyOptions, site_for
    from airlock.kubespray.offline import lock_upstreams, runtime_vars
    from airlock.kubespray.tree import KubesprayTree

    offline = yaml.safe_load((tls.site / "inventory/group_vars/all/offline.yml").read_text())
    address = site_for(ApplyOptions(dest=tls.site, url=tls.url, tls_generate="localhost"))
    ktree = KubesprayTree(tls.site / "kubespray-2.30.0", "2.30.0")
    crio = runtime_vars(ktree, address, "crio", lock_upstreams(tls.lock))
    docker = runtime_vars(ktree, address, "docker", lock_upstreams(tls.lock))
    assert crio["containerd_registries_mirrors"] == offline["containerd_registries_mirrors"]
    variables = {**crio, **docker, "containerd_registries_mirrors": offline["containerd_registries_mirrors"],
                 "docker_cgroup_driver": "systemd", "docker_daemon_graph": "/var/lib/docker",
                 "docker_log_opts": "", "ansible_os_family": "RedHat"}
    return render_templates(variables, tmp_path, ansible_playbook)


def test_ctr_pulls_every_image_through_kubesprays_hosts_toml_and_the_ca_only(tls: TlsSite, tmp_path: Path,
                                                                            ansible_playbook: str) -> None:
    from tests.world.servers import Containerd

    out = render_kubespray(tls, tmp_path, ansible_playbook)
    rendered = (out / "certs.d" / tls.host / "hosts.toml").read_text()
    assert f'ca = ["{NODE_CA_PATH}"]' in rendered and "skip_verify = false" in rendered and "http://" not in rendered
    docker = (out / "docker-options.conf").read_text()
    assert "--insecure-registry" not in docker  # dockerd finds the CA in /etc/docker/certs.d/<host:port>/ (setup)
    root = node_root(tls, tmp_path)
    stripped = tmp_path / "no-ca/certs.d" / tls.host
    stripped.mkdir(parents=True)
    (stripped / "hosts.toml").write_text("".join(ln for ln in rendered.splitlines(keepends=True) if "ca = " not in ln))
    assert tls.lock.image
    with Containerd(tmp_path / "ctd") as ctd:
        def pull(hosts: Path, ref: str) -> subprocess.CompletedProcess[str]:
            return on_node(root, need("ctr"), "--address", str(ctd.socket), "-n", "airlock", "images", "pull",
                           "--hosts-dir", str(hosts), "--snapshotter", "native", ref)

        first = f"{tls.host}/{tls.lock.image[0].ref}"
        bad = pull(tmp_path / "no-ca/certs.d", first)  # the host's trust store does not know the site
        assert bad.returncode != 0 and "certificate" in bad.stderr + bad.stdout, bad.stderr + bad.stdout
        for image in tls.lock.image:
            ref = f"{tls.host}/{image.ref}"
            res = pull(out / "certs.d", ref)
            assert res.returncode == 0, res.stderr + res.stdout
            line = next(ln for ln in ctd.ctr("-n", "airlock", "images", "ls").stdout.splitlines()
                        if ln.startswith(ref + " "))
            assert next(t for t in line.split() if t.startswith("sha256:")) in (image.digest, image.target_digest)
        # airlock's own hosts.toml (installed by setup.sh): an upstream name pulls from the site over TLS
        image = tls.lock.image[-1]
        res = pull(root / "etc/containerd/certs.d", image.ref)
        assert res.returncode == 0, res.stderr + res.stdout


def test_podman_pulls_every_image_through_kubesprays_crio_config_and_certs_d(tls: TlsSite, tmp_path: Path,
                                                                            ansible_playbook: str) -> None:
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman not installed (apt-get install podman)")
    out = render_kubespray(tls, tmp_path, ansible_playbook)
    conf = tmp_path / "registries.conf"  # CRI-O merges registries.conf.d/; podman reads the same tables in one file
    conf.write_text("\n".join(p.read_text() for p in sorted((out / "crio").glob("*.conf"))))
    assert "insecure = true" not in conf.read_text()
    root = node_root(tls, tmp_path)
    (tmp_path / "storage.conf").write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "storage"}"\n'
                                           f'runroot = "{tmp_path / "runroot"}"\n')
    env = {**CLEAN_ENV, "CONTAINERS_REGISTRIES_CONF": str(conf), "HOME": str(tmp_path / "home"),
           "CONTAINERS_STORAGE_CONF": str(tmp_path / "storage.conf"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    for image in tls.lock.image:
        pull = on_node(root, podman, "pull", "--arch", "amd64", image.ref, env=env)
        assert pull.returncode == 0, f"{image.ref}: {pull.stderr[-2000:]}"
        digest = on_node(root, podman, "image", "inspect", "--format", "{{.Digest}}", image.ref, env=env)
        assert digest.stdout.strip() in (image.digest, image.target_digest), image.ref
    for runtime in ("containers", "docker"):  # without the certs.d setup.sh installed: the site is not trusted
        shutil.rmtree(root / "etc" / runtime / "certs.d")
    (tmp_path / "storage2.conf").write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "storage2"}"\n'
                                            f'runroot = "{tmp_path / "runroot2"}"\n')
    bad = on_node(root, podman, "pull", "--arch", "amd64", tls.lock.image[0].ref,
                  env={**env, "CONTAINERS_STORAGE_CONF": str(tmp_path / "storage2.conf")})
    assert bad.returncode != 0 and "certificate" in bad.stderr, bad.stderr[-2000:]


def test_dnf_installs_from_the_site_over_https_with_sslcacert(tls: TlsSite, tmp_path: Path) -> None:
    root = node_root(tls, tmp_path)
    res = on_node(root, "dnf", "-y", f"--installroot={root}", "--setopt=reposdir=/etc/yum.repos.d",
                  f"--setopt=cachedir={tmp_path}/cache", "--releasever=10", "--forcearch=x86_64",
                  "--setopt=install_weak_deps=False", "install", "alpha")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    # Debian's rpm keeps its database under ~/.rpmdb: query with the HOME dnf ran with (CLEAN_ENV), not the
    # test session's empty one
    out = subprocess.run(["rpm", f"--root={root}", "-q", "alpha"], capture_output=True, text=True, check=False,
                         env=CLEAN_ENV)
    assert out.returncode == 0, out.stdout + out.stderr
    assert any(r.name == "alpha" for r in tls.lock.rpm)
    repo = root / "etc/yum.repos.d/airlock-rocky-10.repo"
    repo.write_text(repo.read_text().replace(f"sslcacert={NODE_CA_PATH}\n", ""))
    bad = on_node(root, "dnf", "-y", f"--installroot={root}", "--setopt=reposdir=/etc/yum.repos.d",
                  f"--setopt=cachedir={tmp_path}/cache2", "--releasever=10", "--forcearch=x86_64",
                  "--setopt=skip_if_unavailable=False", "makecache")
    assert bad.returncode != 0 and "certificate verification failed" in bad.stdout + bad.stderr, bad.stdout[-2000:] + bad.stderr[-2000:]


def test_apt_downloads_from_the_site_over_https_with_its_cainfo(tls: TlsSite, tmp_path: Path) -> None:
    root = node_root(tls, tmp_path, debian=True)
    layout(root)
    opts = apt_options(root)
    upd = on_node(root, "apt-get", *opts, "update")
    assert upd.returncode == 0 and "Err:" not in upd.stdout and "W: " not in upd.stderr.replace(
        "W: Download is performed unsandboxed", ""), upd.stdout + upd.stderr
    res = on_node(root, "apt-get", *opts, "install", "-y", "--download-only", "alpha")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert any(p.name.startswith("alpha_") for p in (root / "var/cache/apt/archives").glob("*.deb"))
    (root / "etc/apt/apt.conf.d/90airlock-ca").unlink()
    shutil.rmtree(root / "var/lib/apt/lists")
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    bad = on_node(root, "apt-get", *opts, "update")
    assert "Err:" in bad.stdout and "certificate" in (bad.stdout + bad.stderr).lower(), bad.stdout + bad.stderr


def test_pip_installs_from_the_site_with_the_written_pip_conf_only(tls: TlsSite, tmp_path: Path) -> None:
    root = node_root(tls, tmp_path)
    env = {**CLEAN_ENV, "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home/.config")}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--no-cache-dir", "--retries", "0",
           "--timeout", "10", "--target", str(tmp_path / "t"), "top-a"]  # index and CA: /etc/pip.conf only
    res = on_node(root, *pip, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert any(p.name.startswith("top_a-") for p in (tmp_path / "t").iterdir())
    conf = root / "etc/pip.conf"
    conf.write_text("".join(ln for ln in conf.read_text().splitlines(keepends=True) if not ln.startswith("cert")))
    bad = on_node(root, *pip[:-2], str(tmp_path / "t2"), "top-a", env=env)
    assert bad.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in bad.stdout + bad.stderr, bad.stdout + bad.stderr


def test_every_node_file_is_served_over_tls(tls: TlsSite) -> None:
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    for rel in site_files(tls.site, "node"):
        with urllib.request.urlopen(f"{tls.url}/{rel}", context=ctx) as resp:
            assert hashlib.sha256(resp.read()).digest() == hashlib.sha256((tls.site / rel).read_bytes()).digest()
