"""airlock apply / serve / --push with real clients: skopeo, containerd's ctr, plain HTTP downloads."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from airlock.lockfile import read_lock
from tests.helpers import wait_http
from tests.integration.conftest import run_airlock as airlock
from tests.integration.conftest import world_bundle
from tests.world.fingerprint import DIR_NAMING, tree_fingerprint
from tests.world.servers import Containerd, DockerRegistry, free_port
from tests.world.world import World

pytestmark = pytest.mark.integration
BODY = "os: [rocky-10]\narch: [amd64, arm64]\nimages: [ghcr.io/airlock-test/multi:2.0]\n"



@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_bundle(world, tmp_path_factory.mktemp("bundle"), BODY)


@pytest.fixture(scope="module")
def served(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("site")
    port = free_port()
    res = airlock("apply", str(bundle), "--dest", str(root / "site"), "--url", f"http://127.0.0.1:{port}",
                  cache=root / "c")
    assert res.returncode == 0, res.stderr
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(root / "site"), "--listen",
                             f"127.0.0.1:{port}"], stderr=log)
    wait_http(f"http://127.0.0.1:{port}/v2/", proc)
    yield root / "site", port
    proc.terminate()
    assert proc.wait(10) == 0  # clean shutdown on SIGTERM
    assert "stopped" in (root / "serve.log").read_text()


def raw_digest(url: str) -> str:
    out = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", url], capture_output=True, check=True)
    return "sha256:" + hashlib.sha256(out.stdout).hexdigest()


def test_serve_to_skopeo_and_plain_downloads(served: tuple[Path, int], tmp_path: Path) -> None:
    site, port = served
    lock = read_lock(site / "airlock.lock")
    kinds = set()
    for img in lock.image:
        assert raw_digest(f"docker://127.0.0.1:{port}/{img.ref}") == img.target_digest, img.ref
        kinds.add(img.media_type.split(".")[1])
    assert kinds == {"oci", "docker"}
    for img in [i for i in lock.image if i.name in ("multi", "kube-apiserver", "pause")]:
        dest = tmp_path / img.name
        subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                        f"docker://127.0.0.1:{port}/{img.ref}", f"dir:{dest}"], check=True, capture_output=True)
        assert "sha256:" + hashlib.sha256((dest / "manifest.json").read_bytes()).hexdigest() == img.target_digest
    for f in lock.file:
        data = urllib.request.urlopen(f"http://127.0.0.1:{port}/files/{f.path}").read()
        assert hashlib.sha256(data).hexdigest() == f.sha256
    req = urllib.request.Request(f"http://127.0.0.1:{port}/files/{lock.file[0].path}", headers={"Range": "bytes=10-19"})
    resp = urllib.request.urlopen(req)
    assert resp.status == 206 and len(resp.read()) == 10
    for bad in ("/files/../airlock.lock", "/files/%2e%2e/airlock.lock", "/v2/nope/manifests/x", "/oci/index.json"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{bad}")
        assert err.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v2/x/blobs/uploads/", method="POST"))
    assert err.value.code == 405
    catalog = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog").read())
    assert "registry.k8s.io/kube-apiserver" in catalog["repositories"]


def _ctr_pull(ctd: Containerd, ref: str) -> str:
    res = ctd.ctr("-n", "airlock", "images", "pull", "--plain-http", "--snapshotter", "native", ref)
    assert res.returncode == 0, res.stderr + res.stdout
    listing = ctd.ctr("-n", "airlock", "images", "ls")
    line = next(ln for ln in listing.stdout.splitlines() if ln.startswith(ref + " "))
    return next(tok for tok in line.split() if tok.startswith("sha256:"))


def test_ctr_pulls_from_serve(served: tuple[Path, int], tmp_path: Path) -> None:
    site, port = served
    lock = read_lock(site / "airlock.lock")
    oci = next(i for i in lock.image if i.media_type.startswith("application/vnd.oci"))
    docker = next(i for i in lock.image if i.media_type.startswith("application/vnd.docker"))
    with Containerd(tmp_path / "ctd") as ctd:
        for img in (oci, docker):
            assert _ctr_pull(ctd, f"127.0.0.1:{port}/{img.ref}") == img.target_digest


def test_push_then_real_clients(bundle: Path, world: World, tmp_path: Path) -> None:
    with DockerRegistry(tmp_path / "reg", tmp_path / "reg-storage") as reg:
        args = ["apply", str(bundle), "--dest", str(tmp_path / "site"), "--url", "http://127.0.0.1:8080",
                "--push", f"{reg.host}/mirror", "--insecure-registry", "--json"]
        first = airlock(*args, cache=tmp_path / "c")
        assert first.returncode == 0, first.stderr
        pushed = json.loads(first.stdout)["pushed"]
        lock = read_lock(tmp_path / "site" / "airlock.lock")
        assert pushed["images"] == len(lock.image) and pushed["blobs_uploaded"] > 0
        again = json.loads(airlock(*args, cache=tmp_path / "c").stdout)
        assert again["changed"] == [] and again["pushed"]["blobs_uploaded"] == 0
        for img in lock.image:
            assert raw_digest(f"docker://{reg.host}/mirror/{img.ref}") == img.target_digest
        offline = yaml.safe_load((tmp_path / "site/inventory/group_vars/all/offline.yml").read_text())
        assert offline["kube_image_repo"] == f"{reg.host}/mirror/registry.k8s.io"
        oci = next(i for i in lock.image if i.media_type.startswith("application/vnd.oci"))
        docker = next(i for i in lock.image if i.media_type.startswith("application/vnd.docker"))
        with Containerd(tmp_path / "ctd") as ctd:
            for img in (oci, docker):
                assert _ctr_pull(ctd, f"{reg.host}/mirror/{img.ref}") == img.target_digest


def test_reapply_is_a_noop_and_trees_are_reproducible(bundle: Path, tmp_path: Path) -> None:
    url = "http://10.11.12.13:8080"  # an address written into files, never contacted
    t0 = time.perf_counter()
    first = airlock("apply", str(bundle), "--dest", str(tmp_path / "a"), "--url", url, cache=tmp_path / "c")
    t1 = time.perf_counter()
    second = airlock("apply", str(bundle), "--dest", str(tmp_path / "a"), "--url", url, cache=tmp_path / "c")
    t2 = time.perf_counter()
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "up to date, nothing changed" in second.stdout
    print(f"first apply {t1 - t0:.2f} s, re-apply {t2 - t1:.2f} s")
    other = airlock("apply", str(bundle), "--dest", str(tmp_path / "b"), "--url", url, cache=tmp_path / "c")
    assert other.returncode == 0
    # Same bytes in another DIR, but for the systemd unit and the nginx configuration: they must name DIR.
    unit = DIR_NAMING
    assert tree_fingerprint(tmp_path / "a", unit) == tree_fingerprint(tmp_path / "b", unit)
    kubelet = next(p for p in (tmp_path / "a/files").rglob("kubelet"))
    assert kubelet.stat().st_nlink >= 2  # a hardlink into the blob store, not a copy
    # An interrupted apply continues: lose part of the site, apply again.
    (tmp_path / "a/inventory/group_vars/all/offline.yml").unlink()
    kubelet.unlink()
    fixed = airlock("apply", str(bundle), "--dest", str(tmp_path / "a"), "--url", url, cache=tmp_path / "c")
    assert fixed.returncode == 0 and tree_fingerprint(tmp_path / "a", unit) == tree_fingerprint(tmp_path / "b", unit)


def test_offline_yml_redirects_every_download(bundle: Path, tmp_path: Path) -> None:
    from airlock.kubespray.context import Target, make_evaluator
    from airlock.kubespray.downloads import select_downloads
    from airlock.kubespray.tree import DOWNLOAD_ROLES, KubesprayTree

    url = "http://10.11.12.13:8080"
    assert airlock("apply", str(bundle), "--dest", str(tmp_path / "s"), "--url", url, cache=tmp_path / "c").returncode == 0
    site = tmp_path / "s"
    offline = yaml.safe_load((site / "inventory/group_vars/all/offline.yml").read_text())
    manifest = yaml.safe_load((site / "airlock.yaml").read_text())
    tree = KubesprayTree(site / "kubespray-2.30.0", "2.30.0")
    index = json.loads((site / "oci/index.json").read_text())
    refs = {d["annotations"]["org.opencontainers.image.ref.name"] for d in index["manifests"]}
    for arch in manifest["arch"]:
        ev = make_evaluator(tree, DOWNLOAD_ROLES, offline, Target(arch, "rocky-10"))
        files, images = select_downloads(ev)
        for f in files:
            assert f.url.startswith(url + "/files/")
            assert (site / "files" / f.url[len(url) + len("/files/"):]).is_file(), f.url
        for img in images:
            assert img.ref.startswith("10.11.12.13:8080/") and img.ref.split("/", 1)[1] in refs


def _tampered(good: Path, bad: Path, attack: str) -> None:
    if attack == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
        return
    flipped = {"done": False}
    with tarfile.open(good) as tin, tarfile.open(bad, "w", format=tarfile.USTAR_FORMAT) as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isreg() else None  # type: ignore[union-attr]  # a regular member: extractfile gives a file
            if attack == "flipped" and m.name.startswith("blobs/sha256/") and m.isreg() and not flipped["done"]:
                flipped["done"] = True
                data = bytes([data[0] ^ 1]) + data[1:]  # type: ignore[index]  # bytes here: the member is a regular file
            if attack == "bundle-json" and m.name == "bundle.json":
                doc = json.loads(data)  # type: ignore[arg-type]  # bytes here: the member is a regular file
                doc["lock_sha256"] = "0" * 64
                data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
            if m.name == "index.json" and attack in ("unlisted", "dotdot", "symlink"):
                extra = tarfile.TarInfo({"unlisted": "extra.txt", "dotdot": "../escape.txt",
                                         "symlink": "blobs/sha256/evil"}[attack])
                if attack == "symlink":
                    extra.type, extra.linkname = tarfile.SYMTYPE, "/etc/shadow"
                    tout.addfile(extra)
                else:
                    extra.size = 2
                    tout.addfile(extra, io.BytesIO(b"x\n"))


@pytest.mark.parametrize("attack", ["flipped", "unlisted", "dotdot", "symlink", "truncated", "bundle-json"])
def test_tampered_bundles_change_nothing(bundle: Path, tmp_path: Path, attack: str) -> None:
    url = "http://10.11.12.13:8080"
    site = tmp_path / "site"
    assert airlock("apply", str(bundle), "--dest", str(site), "--url", url, cache=tmp_path / "c").returncode == 0
    (site / "files").rename(site / "files-moved")  # make the site differ from what a good apply would do
    before = tree_fingerprint(site)
    bad = tmp_path / "bad.tar"
    _tampered(bundle, bad, attack)
    listing = sorted(p.name for p in tmp_path.iterdir())
    for dest in (site, tmp_path / "fresh"):
        res = airlock("apply", str(bad), "--dest", str(dest), "--url", url, cache=tmp_path / "c")
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert tree_fingerprint(site) == before
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no staging left behind


def test_delta_bundle_needs_its_base(world: World, bundle: Path, tmp_path: Path) -> None:
    new_manifest = world.manifest(tmp_path / "n" / "airlock.yaml", "2.30.0", BODY + "addons: [argocd]\n")
    assert airlock("resolve", "-f", str(new_manifest), cache=tmp_path / "c").returncode == 0
    delta = tmp_path / "delta.tar"
    res = airlock("fetch", "--lock", str(tmp_path / "n" / "airlock.lock"), "-o", str(delta),
                  "--base", str(bundle.parent / "airlock.lock"), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    url = "http://10.11.12.13:8080"
    refused = airlock("apply", str(delta), "--dest", str(tmp_path / "empty"), "--url", url, cache=tmp_path / "c")
    assert refused.returncode == 2 and "delta bundle" in refused.stderr and not (tmp_path / "empty").exists()
    assert airlock("apply", str(bundle), "--dest", str(tmp_path / "s"), "--url", url, cache=tmp_path / "c").returncode == 0
    ok = airlock("apply", str(delta), "--dest", str(tmp_path / "s"), "--url", url, cache=tmp_path / "c")
    assert ok.returncode == 0, ok.stderr
    assert any((tmp_path / "s/files/raw.githubusercontent.com").rglob("install.yaml"))


@pytest.mark.network
def test_kubesprays_own_ansible_agrees_offline_yml_is_complete(bundle: Path, tmp_path: Path,
                                                               ansible_playbook: str) -> None:
    """Kubespray evaluated by real ansible-core, with offline.yml applied, downloads only from the site."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
    from oracle import run

    url = "http://10.11.12.13:8080"
    assert airlock("apply", str(bundle), "--dest", str(tmp_path / "s"), "--url", url, cache=tmp_path / "c").returncode == 0
    site = tmp_path / "s"
    offline = yaml.safe_load((site / "inventory/group_vars/all/offline.yml").read_text())
    manifest = yaml.safe_load((site / "airlock.yaml").read_text())
    for arch in manifest["arch"]:
        got = run(site / "kubespray-2.30.0", arch, "rocky-10", offline, ansible_playbook)
        for _name, file_url, _sum in got["files"]:
            assert file_url.startswith(url + "/files/") and (site / "files" / file_url[len(url) + 7:]).is_file()
        for _name, ref in got["images"]:
            assert ref.startswith("10.11.12.13:8080/")
