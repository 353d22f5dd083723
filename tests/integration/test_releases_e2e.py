"""The whole pipeline on the oldest, a middle and the newest supported Kubespray: resolve -> fetch ->
apply -> serve, then offline.yml proven complete (airlock's evaluation, and live: Kubespray's own
evaluation in the ansible-core the release pins) and the site answering every planned download."""

from __future__ import annotations

import hashlib
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.downloads import select_downloads
from airlock.kubespray.tree import DOWNLOAD_ROLES, KubesprayTree
from airlock.lockfile import read_lock
from tests.helpers import airlock, airlock_serve
from tests.world.world import World

pytestmark = pytest.mark.integration
RELEASES = ("2.27.1", "2.30.0", "2.32.0")  # 2.32.0: master
BODY = "os: [rocky-10]\narch: [amd64, arm64]\n"


@pytest.fixture(scope="module", params=RELEASES)
def site(request: pytest.FixtureRequest, world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    version = request.param
    root = tmp_path_factory.mktemp(f"e2e-{version}")
    manifest = world.manifest(root / "airlock.yaml", version, BODY)
    res = airlock("resolve", "-f", str(manifest), cache=root / "c")
    assert res.returncode == 0, res.stderr
    res = airlock("fetch", "--lock", str(root / "airlock.lock"), "-o", str(root / "bundle.tar"), cache=root / "c")
    assert res.returncode == 0, res.stderr
    res = airlock("apply", str(root / "bundle.tar"), "--dest", str(root / "site"), "--url", SITE_URL,
                  cache=root / "c")
    assert res.returncode == 0, res.stderr
    return root / "site"


SITE_URL = "http://10.11.12.13:8080"


def _offline(site: Path) -> dict:
    return yaml.safe_load((site / "inventory/group_vars/all/offline.yml").read_text())


def _tree(site: Path) -> KubesprayTree:
    lock = read_lock(site / "airlock.lock")
    return KubesprayTree(site / f"kubespray-{lock.kubespray.version}", lock.kubespray.version)


def test_offline_yml_serves_everything_from_the_site(site: Path) -> None:
    tree, offline = _tree(site), _offline(site)
    lock = read_lock(site / "airlock.lock")
    refs = {i.ref for i in lock.image}
    for arch in ("amd64", "arm64"):
        files, images = select_downloads(make_evaluator(tree, DOWNLOAD_ROLES, offline, Target(arch, "rocky-10")))
        assert files and images
        for f in files:
            assert f.url.startswith(SITE_URL + "/files/"), f.url
            assert (site / "files" / f.url[len(SITE_URL) + len("/files/"):]).is_file(), f.url
        for img in images:
            assert img.ref.startswith("10.11.12.13:8080/") and img.ref.split("/", 1)[1] in refs, img.ref


def test_serve_answers_every_locked_file(site: Path, tmp_path: Path) -> None:
    with (tmp_path / "serve.log").open("w") as log, airlock_serve(site, log=log) as served:
        for f in read_lock(site / "airlock.lock").file:
            data = urllib.request.urlopen(f"{served.url}/files/{f.path}").read()
            assert hashlib.sha256(data).hexdigest() == f.sha256, f.path


@pytest.mark.network
def test_kubesprays_own_ansible_agrees_offline_yml_is_complete(site: Path,
                                                               ansible_for: Callable[[Path], str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
    from oracle import run

    tree, offline = _tree(site), _offline(site)
    for arch in ("amd64", "arm64"):
        got = run(tree.root, arch, "rocky-10", offline, ansible_for(tree.root))
        assert got["files"] and got["images"]
        for _name, url, _sum in got["files"]:
            assert url.startswith(SITE_URL + "/files/") and (site / "files" / url[len(SITE_URL) + 7:]).is_file(), url
        for _name, ref in got["images"]:
            assert ref.startswith("10.11.12.13:8080/"), ref
