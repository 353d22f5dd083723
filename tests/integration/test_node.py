"""The node side of a site: every node/ and inventory/ file is served by ``airlock serve``; node/setup.sh
and the node/site.yml playbook (real ansible-core, ``-c local``) configure a throwaway root from the
files downloaded from the site, and both install exactly the same files."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import run_airlock as airlock
from tests.world.pipeline import applied_and_served
from tests.world.world import World

pytestmark = pytest.mark.integration
BODY = "os: [rocky-10]\narch: [amd64]\nntp: [site, ntp.corp.example]\n"



@pytest.fixture(scope="module")
def served(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("node")
    manifest = world.manifest(root / "airlock.yaml", "2.30.0", BODY)
    assert airlock("resolve", "-f", str(manifest), cache=root / "c").returncode == 0
    res = airlock("fetch", "--lock", str(root / "airlock.lock"), "-o", str(root / "bundle.tar"), cache=root / "c")
    assert res.returncode == 0, res.stderr
    with applied_and_served(root / "bundle.tar", root / "site", root / "c", root / "serve.log") as (port, res):
        assert f"-b {root / 'site/node/site.yml'} before cluster.yml" in res.stdout
        yield root / "site", f"http://127.0.0.1:{port}"


def site_files(site: Path, top: str) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in (site / top).rglob("*") if p.is_file())


def download_node(site: Path, url: str, into: Path) -> Path:
    """node/ as a node gets it: each file over HTTP from the site."""
    for rel in site_files(site, "node"):
        with urllib.request.urlopen(f"{url}/{rel}") as resp:
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            (into / rel).write_bytes(resp.read())
    return into / "node"


def fake_rocky(root: Path) -> Path:
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/os-release").write_text('NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="10.0"\n')
    (root / "etc/yum.repos.d/rocky.repo").write_text("[baseos]\nbaseurl=https://dl.rockylinux.org/\n")
    (root / "etc/yum.repos.d/rocky-addons.repo").write_text("[extras]\n")
    (root / "etc/chrony.conf").write_text("pool 2.rocky.pool.ntp.org iburst\n")
    return root


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_node_and_inventory_file_is_served(served: tuple[Path, str]) -> None:
    site, url = served
    rels = site_files(site, "node") + site_files(site, "inventory")
    for must in ("node/setup.sh", "node/site.yml", "node/README.md", "node/pip.conf", "node/chrony.conf",
                 "node/yum.repos.d/airlock-rocky-10.repo", "node/containers/registries.conf.d/airlock.conf",
                 "inventory/group_vars/all/offline.yml"):
        assert must in rels
    assert any(r.startswith("node/containerd/certs.d/") for r in rels)
    for rel in rels:
        with urllib.request.urlopen(f"{url}/{rel}") as resp:
            assert resp.status == 200 and resp.read() == (site / rel).read_bytes(), rel
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{url}/node/../airlock.lock")
    assert err.value.code == 404


def test_offline_yml_and_chrony_point_at_the_admin_host(served: tuple[Path, str]) -> None:
    site, _url = served
    offline = yaml.safe_load((site / "inventory/group_vars/all/offline.yml").read_text())
    assert offline["ntp_enabled"] is True and offline["ntp_manage_config"] is True
    assert offline["ntp_servers"] == ["127.0.0.1 iburst", "ntp.corp.example iburst"]
    conf = (site / "node/chrony.conf").read_text()
    assert "server 127.0.0.1 iburst\nserver ntp.corp.example iburst\n" in conf and "\npool " not in conf


def test_setup_sh_configures_a_throwaway_root(served: tuple[Path, str], tmp_path: Path) -> None:
    site, url = served
    node = download_node(site, url, tmp_path / "dl")
    root = fake_rocky(tmp_path / "root")
    res = subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(root)},
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    etc = root / "etc"
    assert sorted(p.name for p in (etc / "yum.repos.d").iterdir()) == ["airlock-rocky-10.repo", "disabled-by-airlock"]
    assert sorted(p.name for p in (etc / "yum.repos.d/disabled-by-airlock").iterdir()) == ["rocky-addons.repo",
                                                                                           "rocky.repo"]
    assert (etc / "yum.repos.d/airlock-rocky-10.repo").read_bytes() == (site / "node/yum.repos.d/airlock-rocky-10.repo"
                                                                         ).read_bytes()
    assert (etc / "pip.conf").read_bytes() == (site / "node/pip.conf").read_bytes()
    assert (etc / "chrony.conf").read_bytes() == (site / "node/chrony.conf").read_bytes()
    assert (etc / "chrony.conf.before-airlock").read_text().startswith("pool 2.rocky")
    assert (etc / "containers/registries.conf.d/airlock.conf").is_file()
    certs = {p.relative_to(site / "node/containerd/certs.d") for p in (site / "node/containerd/certs.d").rglob("*.toml")}
    assert certs and all((etc / "containerd/certs.d" / c).is_file() for c in certs)
    before = tree(root)  # a second run changes nothing
    assert subprocess.run(["sh", str(node / "setup.sh"), "rocky-10"], env={"PATH": os.environ["PATH"], "ROOT": str(root)},
                          capture_output=True, check=False).returncode == 0
    assert tree(root) == before
    bad = subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(tmp_path / "x")},
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0


def test_playbook_installs_what_setup_sh_installs(served: tuple[Path, str], tmp_path: Path,
                                                  ansible_playbook: str) -> None:
    site, url = served
    node = download_node(site, url, tmp_path / "dl")
    by_script = fake_rocky(tmp_path / "by-script")
    subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(by_script)},
                   check=True, capture_output=True)
    by_playbook = fake_rocky(tmp_path / "by-playbook")
    untouched = tree(by_playbook)
    cmd = [ansible_playbook, "-i", "localhost,", "-c", "local", str(node / "site.yml"),
           "-e", f"airlock_root={by_playbook}", "-e", "airlock_os=rocky-10",
           "-e", f"ansible_python_interpreter={Path(ansible_playbook).parent / 'python'}"]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "ANSIBLE_HOME": str(tmp_path / "ansible-home")}
    check = subprocess.run([*cmd, "--check"], capture_output=True, text=True, env=env, check=False)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    assert tree(by_playbook) == untouched  # --check writes nothing
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert tree(by_playbook) == tree(by_script)
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert again.returncode == 0 and tree(by_playbook) == tree(by_script)


def fake_debian(root: Path) -> Path:
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    (root / "etc/apt/sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    (root / "etc/apt/sources.list.d/debian.sources").write_text("Types: deb\n")
    (root / "etc/apt/sources.list.d/extra.list").write_text("deb http://example.org/ ./\n")
    return root


def test_playbook_and_setup_sh_agree_on_a_debian_root(served: tuple[Path, str], tmp_path: Path,
                                                      ansible_playbook: str) -> None:
    site, url = served
    node = download_node(site, url, tmp_path / "dl")
    (node / "apt").mkdir()
    (node / "apt/airlock-debian-12.list").write_text(
        f"deb [signed-by=/etc/apt/keyrings/airlock-site.gpg] {url}/debs/debian-12/$(ARCH) ./\n")
    by_script = fake_debian(tmp_path / "by-script")
    subprocess.run(["sh", str(node / "setup.sh")], env={"PATH": os.environ["PATH"], "ROOT": str(by_script)},
                   check=True, capture_output=True)
    apt = by_script / "etc/apt"
    assert sorted(p.name for p in (apt / "sources.list.d").iterdir()) == ["airlock-debian-12.list"]
    assert sorted(p.name for p in (apt / "disabled-by-airlock").iterdir()) == ["debian.sources", "extra.list",
                                                                              "sources.list"]
    assert (by_script / "etc/chrony/chrony.conf").read_bytes() == (node / "chrony.conf").read_bytes()
    by_playbook = fake_debian(tmp_path / "by-playbook")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "ANSIBLE_HOME": str(tmp_path / "ansible-home")}
    run = subprocess.run([ansible_playbook, "-i", "localhost,", "-c", "local", str(node / "site.yml"),
                          "-e", f"airlock_root={by_playbook}", "-e", "airlock_os=debian-12",
                          "-e", f"ansible_python_interpreter={Path(ansible_playbook).parent / 'python'}"],
                         capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert tree(by_playbook) == tree(by_script)


def test_podman_pulls_through_the_registries_file(served: tuple[Path, str], tmp_path: Path) -> None:
    """podman (containers/image, CRI-O's image library) with only node/'s registries file: the upstream
    name of a locked image pulls from the site, digest equal to the lock's, no --tls-verify=false."""
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman not installed (apt-get install podman)")
    site, _url = served
    from airlock.lockfile import read_lock

    lock = read_lock(site / "airlock.lock")
    # node/'s file as the whole registries configuration: nothing of this machine's /etc/containers counts
    shutil.copy(site / "node/containers/registries.conf.d/airlock.conf", tmp_path / "registries.conf")
    store = tmp_path / "storage"
    env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(tmp_path / "registries.conf"),
           "CONTAINERS_STORAGE_CONF": str(tmp_path / "storage.conf"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    (tmp_path / "storage.conf").write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{store}"\n'
                                           f'runroot = "{tmp_path / "runroot"}"\n')
    image = next(i for i in lock.image if i.ref.startswith("registry.k8s.io/"))
    res = subprocess.run([podman, "pull", "--arch", "amd64", image.ref],
                         capture_output=True, text=True, env=env, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    out = subprocess.run([podman, "image", "inspect", "--format", "{{.Digest}}", image.ref],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert out in (image.digest, image.target_digest)



# Kubespray's runtime roles (roles/container-engine/*), reduced to the tasks that template registry configs:
# (template, directory and file name under the output directory, loop variable or None)
RUNTIME_TEMPLATES = (
    ("roles/container-engine/cri-o/templates/registry.conf.j2", "crio",
     "10-{{ item.prefix | default(item.location) | regex_replace(':|/', '_') }}.conf", "crio_registries"),
    ("roles/container-engine/cri-o/templates/unqualified.conf.j2", "crio", "01-unqualified.conf", None),
    ("roles/container-engine/docker/templates/docker-options.conf.j2", ".", "docker-options.conf", None),
    ("roles/container-engine/containerd/templates/hosts.toml.j2", "certs.d/{{ item.prefix }}", "hosts.toml",
     "containerd_registries_mirrors"),
)


def render_runtime_configs(site: Path, url: str, tmp_path: Path, ansible_playbook: str) -> Path:
    """Kubespray's own templates (from a git copy of the repository) rendered by real ansible-core from the
    variables offline.yml carries for containerd, CRI-O and Docker, for this site."""
    from airlock.apply.offline import Site
    from airlock.kubespray.offline import lock_upstreams, runtime_vars
    from airlock.kubespray.tree import KubesprayTree
    from airlock.lockfile import read_lock

    lock = read_lock(site / "airlock.lock")
    tree = KubesprayTree(site / "kubespray-2.30.0", "2.30.0")
    address = Site(f"{url}/files", url.split("://", 1)[1], True)
    variables = {**runtime_vars(tree, address, "crio", lock_upstreams(lock)),
                 **runtime_vars(tree, address, "docker", lock_upstreams(lock)),
                 "docker_cgroup_driver": "systemd", "docker_daemon_graph": "/var/lib/docker",
                 "docker_log_opts": "", "ansible_os_family": "RedHat"}
    return render_templates(variables, tmp_path, ansible_playbook)


def render_templates(variables: dict[str, object], tmp_path: Path, ansible_playbook: str) -> Path:
    """RUNTIME_TEMPLATES of Kubespray 2.30.0 rendered by real ansible-core with ``variables``, under tmp_path/rendered."""
    from tests.kubespray_repo import template

    (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables))
    out = tmp_path / "rendered"
    tasks = []
    for n, (path, directory, name, loop) in enumerate(RUNTIME_TEMPLATES):
        src = tmp_path / f"t{n}.j2"
        src.write_text(template("2.30.0", path))
        looped = {"loop": "{{ " + loop + " }}"} if loop else {}
        tasks.append({"ansible.builtin.file": {"path": f"{out}/{directory}", "state": "directory"}, **looped})
        tasks.append({"ansible.builtin.template": {"src": str(src), "dest": f"{out}/{directory}/{name}",
                                                   "mode": "0644"}, **looped})
    (tmp_path / "render.yml").write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                                          "vars_files": [str(tmp_path / "vars.yml")],
                                                          "tasks": tasks}]))
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "ANSIBLE_HOME": str(tmp_path / "ansible-home")}
    res = subprocess.run([ansible_playbook, "-i", "localhost,", "-c", "local", str(tmp_path / "render.yml"),
                          "-e", f"ansible_python_interpreter={Path(ansible_playbook).parent / 'python'}"],
                         capture_output=True, text=True, env=env, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    return out


def test_kubesprays_rendered_crio_config_pulls_every_image_with_podman(served: tuple[Path, str], tmp_path: Path,
                                                                     ansible_playbook: str) -> None:
    """podman (containers/image, CRI-O's image library) pulls every locked image by its upstream name
    through Kubespray's rendered CRI-O files, with no --tls-verify=false; Docker's rendered options list
    the site as an insecure registry."""
    from airlock.lockfile import read_lock

    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman not installed (apt-get install podman)")
    site, url = served
    lock = read_lock(site / "airlock.lock")
    out = render_runtime_configs(site, url, tmp_path, ansible_playbook)
    assert f"--insecure-registry={url.split('://', 1)[1]} " in (out / "docker-options.conf").read_text()
    # CRI-O merges registries.conf.d/; one file holding the same tables is what podman reads here
    conf = tmp_path / "registries.conf"
    conf.write_text("\n".join(p.read_text() for p in sorted((out / "crio").glob("*.conf"))))
    (tmp_path / "storage.conf").write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "storage"}"\n'
                                           f'runroot = "{tmp_path / "runroot"}"\n')
    penv = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf),
            "CONTAINERS_STORAGE_CONF": str(tmp_path / "storage.conf"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    assert lock.image
    for image in lock.image:
        pull = subprocess.run([podman, "pull", "--arch", "amd64", image.ref], capture_output=True, text=True,
                              env=penv, check=False)
        assert pull.returncode == 0, f"{image.ref}: {pull.stderr[-2000:]}"
        digest = subprocess.run([podman, "image", "inspect", "--format", "{{.Digest}}", image.ref],
                                capture_output=True, text=True, env=penv, check=True).stdout.strip()
        assert digest in (image.digest, image.target_digest), image.ref


def test_kubesprays_rendered_hosts_toml_pulls_every_image_with_ctr(served: tuple[Path, str], tmp_path: Path,
                                                                 ansible_playbook: str) -> None:
    """containerd's ctr with only Kubespray's rendered hosts.toml (--hosts-dir, no --plain-http) pulls
    every locked image by the site name offline.yml gives it."""
    from airlock.lockfile import read_lock
    from tests.world.servers import Containerd

    site, url = served
    lock = read_lock(site / "airlock.lock")
    out = render_runtime_configs(site, url, tmp_path, ansible_playbook)
    host = url.split("://", 1)[1]
    assert (out / "certs.d" / host / "hosts.toml").is_file()
    with Containerd(tmp_path / "ctd") as ctd:
        for image in lock.image:
            ref = f"{host}/{image.ref}"
            res = ctd.ctr("-n", "airlock", "images", "pull", "--hosts-dir", str(out / "certs.d"), "--snapshotter",
                          "native", ref)
            assert res.returncode == 0, res.stderr + res.stdout
            line = next(ln for ln in ctd.ctr("-n", "airlock", "images", "ls").stdout.splitlines()
                        if ln.startswith(ref + " "))
            assert next(t for t in line.split() if t.startswith("sha256:")) in (image.digest, image.target_digest)
