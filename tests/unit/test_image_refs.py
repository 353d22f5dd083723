"""One image-reference type through the pipeline's pure parts: the lock (old spellings read, canonical
written), the bundle's OCI layout, the site's registry catalog, the node's certs.d and the SBOM."""

from __future__ import annotations

import json
import os
from pathlib import Path

from packageurl import PackageURL

from airlock.apply.offline import Site as SiteAddress
from airlock.apply.site import node_files
from airlock.bundle.write import layout_index
from airlock.digest import Digest
from airlock.lockfile import ImagePin, Lock, PlatformPin, dumps, parse_lock
from airlock.reference import ImageRef
from airlock.review.sbom import build_sbom, validate
from airlock.server.protocol import Request
from airlock.server.registry import Catalog
from airlock.server.site import Site
from tests.unit.lockfile.test_lockfile import sample

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SITE = SiteAddress("http://10.0.0.5:8080/files", "10.0.0.5:8080", True)


def _image(name: str, ref: str, digest: str, target: str = "platform", platform: str | None = None) -> ImagePin:
    """A pin of ``ref``: its platform manifest is ``platform`` (the target of a "platform" pin)."""
    platform = platform or (digest if target == "platform" else Digest.of(name.encode()))
    media_type = OCI_INDEX if target != "platform" else OCI_MANIFEST
    return ImagePin(name=name, ref=ref, digest=digest, media_type=media_type, target=target,  # type: ignore[arg-type]
                    target_digest=digest, target_media_type=media_type,
                    platforms=[PlatformPin(arch="amd64", digest=platform, media_type=OCI_MANIFEST, size=1)])


def refs_lock(index_digest: str = "sha256:" + "1" * 64) -> Lock:
    return sample().model_copy(update={"image": [
        _image("pause", f"registry.k8s.io/pause@{index_digest}", index_digest, "upstream-index"),
        _image("nginx", "nginx:1.29", "sha256:" + "2" * 64),
        _image("app", "localhost:5000/app:1", "sha256:" + "3" * 64),
    ]})


def test_a_lock_with_short_refs_reads_and_is_written_canonically() -> None:
    old = dumps(sample()).replace('ref = "docker.io/r/a:1"', 'ref = "nginx:1.29"')  # as lock v1 writers left it
    assert 'ref = "nginx:1.29"' in old and "version = 1\n" in old
    lock = parse_lock(old)
    nginx = next(i for i in lock.image if i.name == "a")
    assert isinstance(nginx.ref, ImageRef) and nginx.ref == "docker.io/library/nginx:1.29"
    assert (nginx.ref.registry, nginx.ref.repository, nginx.ref.tag) == ("docker.io", "library/nginx", "1.29")
    assert isinstance(nginx.digest, Digest) and isinstance(lock.file[0].digest, Digest)
    text = dumps(lock)
    assert 'ref = "docker.io/library/nginx:1.29"' in text and 'ref = "nginx:1.29"' not in text
    assert dumps(parse_lock(text)) == text


def test_node_config_is_keyed_by_registry_host() -> None:
    out = node_files(refs_lock(), SITE)
    dirs = sorted(k.split("/")[3] for k in out if k.startswith("node/containerd/certs.d/"))
    assert dirs == ["10.0.0.5:8080", "docker.io", "localhost:5000", "registry.k8s.io"]
    hub = out["node/containerd/certs.d/docker.io/hosts.toml"].decode()
    assert 'server = "https://registry-1.docker.io"' in hub and '[host."http://10.0.0.5:8080/v2/docker.io"]' in hub


def _site(tmp_path: Path, lock: Lock, docs: dict[str, bytes]) -> Path:
    """A site's oci/ as apply writes it: the lock's layout index and the given manifests."""
    blobs = tmp_path / "site" / "oci" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for data in docs.values():
        (blobs / Digest.of(data).hex).write_bytes(data)
    sizes = {i.ref.canonical: len(docs[i.target_digest]) for i in lock.image}
    (tmp_path / "site" / "oci" / "index.json").write_bytes(layout_index(lock, sizes))
    return tmp_path / "site"


def test_the_site_serves_digest_pinned_and_short_refs_under_their_repository(tmp_path: Path) -> None:
    platform = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
                           "config": {"mediaType": "c", "digest": "sha256:" + "c" * 64, "size": 2}}).encode()
    absent = "sha256:" + "e" * 64  # a platform the lock did not ask for: not in the air gap
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": Digest.of(platform), "size": len(platform),
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": OCI_MANIFEST, "digest": absent, "size": 9, "platform": {"architecture": "s390x", "os": "linux"}},
    ]}).encode()
    pause = _image("pause", f"registry.k8s.io/pause@{Digest.of(index)}", Digest.of(index), "upstream-index",
                   Digest.of(platform))
    lock = sample().model_copy(update={"image": [pause, _image("nginx", "nginx:1.29", Digest.of(platform))]})
    site = _site(tmp_path, lock, {Digest.of(index): index, Digest.of(platform): platform})
    (site / ".airlock").mkdir()
    repos = Catalog(site).repos()
    assert sorted(repos) == ["docker.io/library/nginx", "registry.k8s.io/pause"]
    assert repos["registry.k8s.io/pause"].tags == {} and Digest.of(index) in repos["registry.k8s.io/pause"].manifests
    assert repos["docker.io/library/nginx"].tags == {"1.29": Digest.of(platform)}

    server = Site(site)

    def get(path: str) -> tuple[int, bytes]:
        resp = server.handle(Request("GET", path, path, (1, 1)))
        if resp.fd is not None:
            try:
                return resp.code, os.pread(resp.fd, resp.length, resp.offset)
            finally:
                os.close(resp.fd)
        return resp.code, resp.body

    assert json.loads(get("/v2/_catalog")[1])["repositories"] == ["docker.io/library/nginx", "registry.k8s.io/pause"]
    assert get(f"/v2/registry.k8s.io/pause/manifests/{Digest.of(index)}") == (200, index)
    assert get(f"/v2/registry.k8s.io/pause/manifests/{Digest.of(platform)}") == (200, platform)
    assert get(f"/v2/registry.k8s.io/pause/manifests/{absent}")[0] == 404
    assert get("/v2/docker.io/library/nginx/manifests/1.29") == (200, platform)
    assert get("/v2/nginx/manifests/1.29")[0] == 404


def test_sbom_purls_are_valid_and_parse_back() -> None:
    lock = refs_lock()
    doc = build_sbom(lock)
    validate(doc)
    purls = {c["name"]: PackageURL.from_string(c["purl"]) for c in json.loads(doc)["components"]
             if c["purl"].startswith("pkg:oci/")}
    assert sorted(purls) == ["app", "nginx", "pause"]
    for img in lock.image:
        purl = purls[img.name]
        assert purl.to_string() == PackageURL.from_string(purl.to_string()).to_string()
        assert (purl.type, purl.namespace, purl.name) == ("oci", None, img.ref.short_name)
        assert purl.version == img.platforms[0].digest
        assert purl.qualifiers["repository_url"] == img.ref.name and purl.qualifiers["arch"] == "amd64"
        assert purl.qualifiers.get("tag") == img.ref.tag
    assert "tag" not in purls["pause"].qualifiers  # pinned by digest alone
    assert purls["app"].qualifiers == {"arch": "amd64", "repository_url": "localhost:5000/app", "tag": "1"}
    assert purls["nginx"].qualifiers["repository_url"] == "docker.io/library/nginx"
