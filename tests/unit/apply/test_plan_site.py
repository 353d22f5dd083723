"""plan_site on an in-memory bundle view: the whole site (offline.yml, node/, repos, PyPI index, serve unit,
nginx) without a site directory, a bundle or a staging area on disk."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
from pathlib import Path

import yaml

from airlock.apply.offline import Site
from airlock.apply.plan import BundleView, PlanOptions, SiteTLSFiles, plan_json, plan_site
from airlock.apply.signing import SITE_KEY, SITE_PUBLIC
from airlock.kubespray.tree import KubesprayTree
from airlock.lockfile.model import DebIndexPin, DebPin, Inputs, KubesprayPin, Lock, RpmPin, WheelPin
from airlock.manifest.loader import LoadedManifest
from airlock.manifest.model import Manifest
from airlock.plan import build_plan
from tests.conftest import kubespray_dir
from tests.unit.planpins import plan_pins

VERSION = "2.30.0"
DEST = Path("/nonexistent/airlock-plan-test/site")  # never created: planning touches no disk
SITE = Site("http://10.1.2.3:8080/files", "10.1.2.3:8080", True)
LOCK_SHA = "a" * 64
STANZA = ("Package: socat\nVersion: 1.8.0.0-4\nArchitecture: amd64\nFilename: pool/main/s/socat/socat_1.8.0.0-4_amd64.deb\n"
          "Size: 1\nSHA256: " + "1" * 64 + "\nDescription: relay\n one more line\n")
PACKAGES_GZ = gzip.compress(STANZA.encode(), mtime=0)
INDEX_HEX = hashlib.sha256(PACKAGES_GZ).hexdigest()


def manifest() -> LoadedManifest:
    data = {"kubespray": {"version": VERSION, "source": str(kubespray_dir(VERSION))}, "arch": ["amd64"],
            "os": ["rocky-10", "debian-12"]}
    return LoadedManifest(Manifest.model_validate(data), Path("airlock.yaml"), {})


def lock(loaded: LoadedManifest, *, debs: bool = True, wheels: bool = True) -> Lock:
    plan = build_plan(loaded)
    return Lock(
        inputs=Inputs(manifest_sha256="0" * 64, kubespray_sha256="0" * 64),
        kubespray=KubesprayPin(version=VERSION, kind="directory", url=".", sha256="0" * 64),
        **plan_pins(plan, "2" * 64),
        rpm=[RpmPin(os="rocky-10", name="x", version="1", release="1", arch="noarch", repo="baseos", url="u/x.rpm",
                    sha256="3" * 64, size=1)],
        deb=[DebPin(os="debian-12", name="socat", version="1.8.0.0-4", arch="amd64", repo="main",
                    url="http://deb.example/pool/main/s/socat/socat_1.8.0.0-4_amd64.deb", sha256="4" * 64, size=1)]
        if debs else [],
        deb_index=[DebIndexPin(os="debian-12", arch="amd64", repo="main", url="http://deb.example/Packages.gz",
                               sha256=INDEX_HEX, size=len(PACKAGES_GZ))] if debs else [],
        wheel=[WheelPin(name="Jinja2", version="3.1.6", filename="jinja2-3.1.6-py3-none-any.whl",
                        url="http://pypi.example/jinja2-3.1.6-py3-none-any.whl", sha256="5" * 64, size=1,
                        platforms=["cp312-x86_64"])] if wheels else [],
    )


def view(**changes: object) -> BundleView:
    loaded = manifest()
    the_lock = lock(loaded)
    base = BundleView(lock=the_lock, lock_bytes=b"lock\n", lock_sha256=LOCK_SHA, oci_index=b"{}",
                      manifest=loaded, manifest_bytes=b"manifest\n", tree=tree(),
                      deb_index_blobs={INDEX_HEX: PACKAGES_GZ}, applied=("b" * 64,), site_key=fresh_key())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]  # keyword values of BundleView's fields


@functools.cache
def tree() -> KubesprayTree:
    """One tree for the module: planning only reads it (its role layers are then read once)."""
    return KubesprayTree(kubespray_dir(VERSION), VERSION)


@functools.cache
def fresh_key() -> bytes:
    from airlock.apply.signing import site_key

    return site_key(DEST)  # DEST has no key: a fresh one, made in memory


OPTS = PlanOptions(dest=DEST, url="http://10.1.2.3:8080", site=SITE)


def test_plan_is_pure_and_names_the_site() -> None:
    v = view()
    plan = plan_site(v, OPTS)
    assert plan_site(v, OPTS) == plan and not DEST.parent.exists()
    offline = yaml.safe_load(plan.outputs["inventory/group_vars/all/offline.yml"])
    assert offline["files_repo"] == SITE.files_repo
    assert plan.outputs["airlock.lock"] == b"lock\n" and plan.outputs["airlock.yaml"] == b"manifest\n"
    assert json.loads(plan.outputs[".airlock/state.json"]) == {"applied": ["a" * 64, "b" * 64], "current": "a" * 64}
    assert str(DEST) in plan.outputs["admin/airlock-serve.service"].decode()
    assert str(DEST) in plan.outputs["admin/nginx/airlock.conf"].decode()
    assert "node/containerd/certs.d/10.1.2.3:8080/hosts.toml" in plan.outputs
    assert all(rel.startswith("files/") for rel, digest in plan.links.items() if digest == "sha256:" + "2" * 64)
    assert plan.kubespray == f"kubespray-{VERSION}" and plan.trees == () and not plan.venv


def test_repos_are_planned_including_repodata_and_signed_releases() -> None:
    plan = plan_site(view(), OPTS)
    assert plan.repodata == ("rpms/rocky-10/x86_64",)
    assert plan.links["rpms/rocky-10/x86_64/x.rpm"] == "sha256:" + "3" * 64
    assert plan.links["debs/debian-12/amd64/socat_1.8.0.0-4_amd64.deb"] == "sha256:" + "4" * 64
    packages = plan.outputs["debs/debian-12/amd64/Packages"].decode()
    assert "Filename: socat_1.8.0.0-4_amd64.deb" in packages and "Package: socat" in packages
    assert {"debs/debian-12/amd64/InRelease", "debs/debian-12/amd64/Release.gpg", SITE_KEY, SITE_PUBLIC} <= set(plan.outputs)
    assert "node/yum.repos.d/airlock-rocky-10.repo" in plan.outputs


def test_pypi_index_and_pip_conf() -> None:
    plan = plan_site(view(), OPTS)
    assert plan.links["pypi/files/jinja2-3.1.6-py3-none-any.whl"] == "sha256:" + "5" * 64
    page = plan.outputs["pypi/simple/jinja2/index.html"].decode()
    assert "../../files/jinja2-3.1.6-py3-none-any.whl#sha256=" + "5" * 64 in page
    assert b"index-url = http://10.1.2.3:8080/pypi/simple/" in plan.outputs["node/pip.conf"]


def test_no_wheels_no_index_no_debs_no_key() -> None:
    loaded = manifest()
    plan = plan_site(view(lock=lock(loaded, debs=False, wheels=False), deb_index_blobs={}, site_key=None), OPTS)
    assert not any(rel.startswith(("pypi/", "debs/")) for rel in [*plan.outputs, *plan.links])
    assert "node/pip.conf" not in plan.outputs and SITE_KEY not in plan.outputs


def test_staged_blobs_fresh_tree_and_tls_outputs() -> None:
    tls = SiteTLSFiles(files=(Path("/etc/site/server.crt"), Path("/etc/site/server.key")),
                       outputs={"node/ca.crt": b"CA\n"})
    plan = plan_site(view(staged_blobs=("f" * 64, "e" * 64), tree_fresh=True, tls=tls),
                     PlanOptions(dest=DEST, url="https://site.example:8443",
                                 site=Site("https://site.example:8443/files", "site.example:8443", False),
                                 push="registry.example/airlock"))
    assert plan.blobs == ("e" * 64, "f" * 64) and plan.trees == (f"kubespray-{VERSION}",)
    assert plan.outputs["node/ca.crt"] == b"CA\n" and plan.push == "registry.example/airlock"
    assert "server.crt" in plan.outputs["admin/airlock-serve.service"].decode()
    assert 'ssl_certificate "/etc/site/server.crt";' in plan.outputs["admin/nginx/airlock.conf"].decode()


def test_plan_json_is_sorted_and_carries_no_secret() -> None:
    plan = plan_site(view(), OPTS)
    doc = plan_json(plan)
    text = json.dumps(doc, sort_keys=True)
    assert list(doc["outputs"]) == sorted(doc["outputs"]) and list(doc["links"]) == sorted(doc["links"])
    key = plan.outputs[SITE_KEY]
    assert doc["outputs"][SITE_KEY] == {"sha256": hashlib.sha256(key).hexdigest(), "size": len(key)}
    assert key.decode().splitlines()[2] not in text and doc["repodata"] == ["rpms/rocky-10/x86_64"]
    assert json.loads(text) == doc
