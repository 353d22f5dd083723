"""offline.yml is proven complete on every supported release: with its variables applied, Kubespray's
own selection (airlock's evaluation of it) fetches every file and image from the site."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.errors import IncompleteSiteError
from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.downloads import select_downloads
from airlock.kubespray.offline import offline_variables, pypi_vars, repo_vars
from airlock.kubespray.tree import DOWNLOAD_ROLES
from airlock.lockfile.model import Inputs, KubesprayPin, Lock, RpmPin
from airlock.manifest import load_manifest
from airlock.plan import build_plan, inventory_vars, open_manifest_source
from tests.conftest import RELEASE_VERSION, VERSIONS, kubespray_dir
from tests.unit.planpins import plan_pins


class Site:
    files_repo = "http://10.1.2.3:8080/files"
    registry = "10.1.2.3:8080"
    registry_plain = True
    registry_ca = None


def lock_for(tmp_path: Path, release: str, body: str) -> tuple[Lock, object, dict]:
    version = RELEASE_VERSION.get(release, release)
    p = tmp_path / "airlock.yaml"
    p.write_text(f'kubespray: {{version: "{version}", source: "{kubespray_dir(release)}"}}\n' + body)
    loaded = load_manifest(p)
    tree = open_manifest_source(loaded).tree
    plan = build_plan(loaded)
    lock = Lock(
        inputs=Inputs(manifest_sha256="0" * 64, kubespray_sha256="0" * 64),
        kubespray=KubesprayPin(version=version, kind="directory", url=".", sha256="0" * 64),
        **plan_pins(plan, "0" * 64),
        rpm=[RpmPin(os="rocky-10", name="x", version="1", release="1", arch="noarch", repo="r", url="u/x.rpm",
                    sha256="0" * 64, size=1)],
    )
    return lock, tree, inventory_vars(loaded, tree)


@pytest.mark.parametrize("release", VERSIONS)
def test_offline_yml_redirects_every_download(tmp_path: Path, release: str) -> None:
    body = "arch: [amd64, arm64]\nos: [rocky-10]\naddons: [helm, metrics_server]\nnetwork_plugin: cilium\n"
    lock, tree, user = lock_for(tmp_path, release, body)
    offline = offline_variables(tree, lock, user, ["amd64", "arm64"], ["rocky-10"], Site())  # type: ignore[arg-type]  # a stand-in Site with the fields offline_variables reads
    served = {f"{Site.files_repo}/{f.path}" for f in lock.file}
    for arch in ("amd64", "arm64"):
        files, images = select_downloads(make_evaluator(tree, DOWNLOAD_ROLES, {**user, **offline},  # type: ignore[arg-type]  # the offline variables are the plain dict the evaluator takes
                                                        Target(arch, "rocky-10")))
        assert files and images
        assert {f.url for f in files} <= served
        assert all(i.ref.startswith("10.1.2.3:8080/") for i in images)
    assert offline["containerd_registries_mirrors"][0]["prefix"] == "10.1.2.3:8080"
    assert repo_vars(lock, Site()) == {"yum_repo": "http://10.1.2.3:8080/rpms/rocky-10"}
    assert pypi_vars(Site()) == {"pyrepo_index": "http://10.1.2.3:8080/pypi/simple/"}


def test_a_file_the_bundle_lacks_is_named(tmp_path: Path) -> None:
    lock, tree, user = lock_for(tmp_path, "2.27.1", "")
    without = lock.model_copy(update={"file": [f for f in lock.file if f.name != "kubeadm"]})
    with pytest.raises(IncompleteSiteError, match="file kubeadm"):
        offline_variables(tree, without, user, ["amd64"], [None], Site())  # type: ignore[arg-type]  # a stand-in Site with the fields offline_variables reads


def test_site_variables_is_the_whole_of_offline_yml(tmp_path: Path) -> None:
    from airlock.kubespray.offline import node_registries, site_variables
    from airlock.lockfile.model import WheelPin

    lock, tree, user = lock_for(tmp_path, "2.30.0", "os: [rocky-10]\n")
    args = (tree, lock, user, ["amd64"], ["rocky-10"], Site())
    plain = site_variables(*args, ntp_servers=[])  # type: ignore[arg-type]
    assert list(plain) == sorted(plain)
    assert plain == {**offline_variables(*args), **repo_vars(lock, Site())}  # type: ignore[arg-type]
    assert "pyrepo_index" not in plain and "ntp_servers" not in plain

    wheel = WheelPin(name="x", version="1.0", filename="x-1.0-py3-none-any.whl", url="https://example.org/x.whl",
                     sha256="0" * 64, size=1, platforms=["cp312-x86_64"])
    with_extras = site_variables(tree, lock.model_copy(update={"wheel": [wheel]}), user, ["amd64"],  # type: ignore[arg-type]
                                 ["rocky-10"], Site(), ntp_servers=["10.1.2.3"])
    assert with_extras["pyrepo_index"] == "http://10.1.2.3:8080/pypi/simple/"
    assert with_extras["ntp_servers"] == ["10.1.2.3 iburst"] and with_extras["ntp_package"] == "chrony"

    registries = node_registries(tree, lock, Site())  # type: ignore[arg-type]
    assert registries[0] == {"prefix": "10.1.2.3:8080", "location": "10.1.2.3:8080", "insecure": True,
                             "blocked": False, "unqualified": False}
    assert {r["prefix"] for r in registries[1:]} == {i.ref.split("/", 1)[0] for i in lock.image}
    assert all(r["mirrors"][0]["location"] == f"10.1.2.3:8080/{r['prefix']}" for r in registries[1:])
