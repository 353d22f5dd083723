"""A digest-pinned ref (``registry.k8s.io/pause@sha256:...``, what Kubespray writes with
``*_digest_checksum``) and a short ref (``nginx:<tag>``, a Docker Hub image through the docker.io
mirror) from airlock.yaml through resolve, fetch, apply, serve and push; real clients pull each by
its canonical name: skopeo from serve and from the push target, ctr through the node's certs.d and
from the push target."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from packageurl import PackageURL

from airlock.lockfile import ImagePin, read_lock
from airlock.review.sbom import validate
from tests.integration.conftest import run_airlock as airlock
from tests.integration.conftest import world_bundle
from tests.world.pipeline import applied_and_served
from tests.world.servers import Containerd, DockerRegistry
from tests.world.world import World

pytestmark = pytest.mark.integration


def _raw(url: str) -> bytes:
    return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", url], capture_output=True,
                          check=True).stdout


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _refs(world: World) -> tuple[str, str]:
    """(digest-pinned ref of a two-arch pause index in the world's registry, short ref of its nginx)."""
    assert world.registry is not None
    indexes = sorted(r for r, (kind, arches) in world.images.items() if r.startswith("registry.k8s.io/")
                     and kind in ("oci-index", "docker-list") and arches == ("amd64", "arm64"))
    tagged = next((r for r in indexes if r.startswith("registry.k8s.io/pause:")), indexes[0])
    pinned = f"{tagged.rsplit(':', 1)[0]}@{_digest(_raw(f'docker://{world.registry.host}/{tagged}'))}"
    nginx = next(r for r in sorted(world.images) if r.startswith("docker.io/library/nginx:"))
    return pinned, nginx.removeprefix("docker.io/library/")


@pytest.fixture(scope="module")
def case(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    pinned, short = _refs(world)
    root = tmp_path_factory.mktemp("refs")
    world_bundle(world, root, f'arch: [amd64, arm64]\nimages: ["{pinned}", "{short}"]\n')
    return root, pinned, short


@pytest.fixture(scope="module")
def served(case: tuple[Path, str, str]) -> Iterator[tuple[Path, int]]:
    root = case[0]
    with applied_and_served(root / "bundle.tar", root / "site", root / "c", root / "serve.log") as (port, _):
        yield root / "site", port


def _pins(case: tuple[Path, str, str]) -> tuple[ImagePin, ImagePin]:
    root, pinned, short = case
    lock = read_lock(root / "airlock.lock")
    by_ref = {i.ref: i for i in lock.image}
    return by_ref[pinned], by_ref[f"docker.io/library/{short}"]


def test_the_lock_holds_both_canonically(case: tuple[Path, str, str]) -> None:
    root, pinned, short = case
    pause, nginx = _pins(case)
    text = (root / "airlock.lock").read_text()
    assert f'ref = "{pinned}"' in text and f'ref = "docker.io/library/{short}"' in text
    assert f'ref = "{short}"' not in text
    assert pause.ref.tag is None and pause.ref.digest == pinned.rsplit("@", 1)[1]
    # pulled by that digest on the nodes: the pinned index itself is what the air gap serves
    assert pause.target == "upstream-index" and pause.target_digest == pause.digest == pause.ref.digest
    assert nginx.ref.registry == "docker.io" and nginx.ref.repository == "library/nginx"


def test_sbom_purls_parse_back(case: tuple[Path, str, str]) -> None:
    root = case[0]
    res = airlock("sbom", str(root / "airlock.lock"), cache=root / "c")
    assert res.returncode == 0, res.stderr
    validate(res.stdout)
    lock = read_lock(root / "airlock.lock")
    comps = [c for c in json.loads(res.stdout)["components"] if c["purl"].startswith("pkg:oci/")]
    assert len(comps) == sum(len(i.platforms) for i in lock.image)
    for img in _pins(case):
        # the tagged pause Kubespray pins has the same platforms: only the tag qualifier tells them apart
        parsed = [PackageURL.from_string(c["purl"]) for c in comps]
        purls = [p for p in parsed if p.qualifiers["repository_url"] == img.ref.name
                 and p.qualifiers.get("tag") == img.ref.tag and p.version in {pl.digest for pl in img.platforms}]
        assert sorted(p.qualifiers["arch"] for p in purls) == ["amd64", "arm64"]
        for purl in purls:
            assert purl.name == img.ref.short_name and PackageURL.from_string(purl.to_string()) == purl


def test_serve_lists_repositories_and_skopeo_pulls_by_canonical_name(case: tuple[Path, str, str],
                                                                      served: tuple[Path, int],
                                                                      tmp_path: Path) -> None:
    site, port = served
    catalog = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog").read())["repositories"]
    pause, nginx = _pins(case)
    assert pause.ref.name in catalog and "docker.io/library/nginx" in catalog
    assert not any("@" in r or ":" in r.split("/", 1)[1] for r in catalog) and "nginx" not in catalog
    for img in (pause, nginx):
        assert _digest(_raw(f"docker://127.0.0.1:{port}/{img.ref}")) == img.target_digest, img.ref
    dest = tmp_path / "pause"
    subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                    f"docker://127.0.0.1:{port}/{pause.ref}", f"dir:{dest}"], check=True, capture_output=True)
    assert _digest((dest / "manifest.json").read_bytes()) == pause.ref.digest


def test_ctr_pulls_each_through_the_node_config(case: tuple[Path, str, str], served: tuple[Path, int],
                                                tmp_path: Path) -> None:
    site, port = served
    certs = site / "node" / "containerd" / "certs.d"
    pause, nginx = _pins(case)
    lock = read_lock(site / "airlock.lock")
    assert sorted(p.name for p in certs.iterdir()) == sorted({f"127.0.0.1:{port}"} | {i.ref.registry for i in lock.image})
    with Containerd(tmp_path / "ctd") as ctd:
        for img in (pause, nginx):
            res = ctd.ctr("-n", "airlock", "images", "pull", "--hosts-dir", str(certs), "--snapshotter", "native",
                          img.ref)
            assert res.returncode == 0, res.stderr + res.stdout
            line = next(ln for ln in ctd.ctr("-n", "airlock", "images", "ls").stdout.splitlines()
                        if ln.startswith(img.ref + " "))
            assert next(t for t in line.split() if t.startswith("sha256:")) == img.target_digest


def test_push_then_skopeo_pulls_by_canonical_name(case: tuple[Path, str, str], tmp_path: Path) -> None:
    root = case[0]
    with DockerRegistry(tmp_path / "reg", tmp_path / "reg-storage") as reg:
        res = airlock("apply", str(root / "bundle.tar"), "--dest", str(tmp_path / "site"), "--url",
                      "http://127.0.0.1:8080", "--push", f"{reg.host}/mirror", "--insecure-registry",
                      cache=tmp_path / "c")
        assert res.returncode == 0, res.stderr
        for img in _pins(case):
            assert _digest(_raw(f"docker://{reg.host}/mirror/{img.ref}")) == img.target_digest, img.ref
        with Containerd(tmp_path / "ctd") as ctd:
            for img in _pins(case):
                ref = f"{reg.host}/mirror/{img.ref}"
                res = ctd.ctr("-n", "airlock", "images", "pull", "--plain-http", "--snapshotter", "native", ref)
                assert res.returncode == 0, res.stderr + res.stdout
