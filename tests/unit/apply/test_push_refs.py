"""--push of digest-pinned and short refs: repository names, no tag for a digest-only ref, and a
clear hint when a registry refuses a pinned index the bundle has only some platforms of."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from airlock.apply.push import Pusher, PushOptions
from airlock.digest import Digest
from airlock.errors import RegistryError
from airlock.lockfile import ImagePin, PlatformPin
from airlock.reference import parse_ref

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _site(tmp_path: Path, arches: tuple[str, ...]) -> tuple[Path, Digest, list[Digest]]:
    """A store holding an index of ``arches`` and the amd64 manifest only."""
    blobs = tmp_path / "oci" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    manifests = []
    for n, _ in enumerate(arches):
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
                           "config": {"mediaType": "c", "digest": f"sha256:{n:064x}", "size": 1}}).encode()
        manifests.append((body, Digest.of(body)))
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": len(b), "platform": {"os": "linux", "architecture": a}}
        for (b, d), a in zip(manifests, arches, strict=True)]}).encode()
    for data in (index, manifests[0][0]):
        (blobs / Digest.of(data).hex).write_bytes(data)
    return tmp_path, Digest.of(index), [d for _, d in manifests]


def _push(site: Path, img: ImagePin, refuse_index: bool) -> list[str]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if refuse_index and request.url.path.endswith(f"/manifests/{img.target_digest}"):
            return httpx.Response(400, json={"errors": [{"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown"}]})
        body = request.read()
        return httpx.Response(201, headers={"Docker-Content-Digest": Digest.of(body)})

    pusher = Pusher(site, PushOptions(target="reg.test/mirror", insecure=True,
                                      transport=httpx.MockTransport(handler)))
    try:
        pusher.push_manifests(img)
    finally:
        pusher.net.close()
    return seen


def _pin(ref: str, index: Digest, platform: Digest) -> ImagePin:
    return ImagePin(name="pause", ref=parse_ref(ref), digest=index, media_type=OCI_INDEX, target="upstream-index",
                    target_digest=index, target_media_type=OCI_INDEX,
                    platforms=[PlatformPin(arch="amd64", digest=platform, media_type=OCI_MANIFEST, size=1)])


def test_a_digest_pinned_ref_is_pushed_by_digest_under_its_repository(tmp_path: Path) -> None:
    site, index, platforms = _site(tmp_path, ("amd64",))
    seen = _push(site, _pin(f"registry.k8s.io/pause@{index}", index, platforms[0]), refuse_index=False)
    puts = [s for s in seen if s.startswith("PUT")]
    assert puts == [f"PUT /v2/mirror/registry.k8s.io/pause/manifests/{platforms[0]}",
                    f"PUT /v2/mirror/registry.k8s.io/pause/manifests/{index}"]  # no tag: nodes pull by digest


def test_a_short_ref_is_pushed_to_its_canonical_repository_with_its_tag(tmp_path: Path) -> None:
    site, index, platforms = _site(tmp_path, ("amd64",))
    seen = _push(site, _pin("nginx:1.29", index, platforms[0]), refuse_index=False)
    assert seen[-1] == "PUT /v2/mirror/docker.io/library/nginx/manifests/1.29"


def test_a_refused_partial_pinned_index_says_why(tmp_path: Path) -> None:
    site, index, platforms = _site(tmp_path, ("amd64", "arm64", "s390x"))
    with pytest.raises(RegistryError) as info:
        _push(site, _pin(f"registry.k8s.io/pause@{index}", index, platforms[0]), refuse_index=True)
    assert "400" in info.value.message and info.value.hint
    assert "index of 3 manifests" in info.value.hint and "(amd64)" in info.value.hint
    site2, index2, platforms2 = _site(tmp_path / "tagged", ("amd64", "arm64"))
    with pytest.raises(RegistryError) as plain:  # by tag: the registry's own answer, unexplained
        _push(site2, _pin("registry.k8s.io/pause:3.10", index2, platforms2[0]), refuse_index=True)
    assert "index of" not in (plain.value.hint or "")


def test_images_of_one_repository_put_each_manifest_once_and_never_side_by_side(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pause:3.10`` and ``pause@<its index>`` share every manifest. distribution rewrites a
    manifest's link in place on each PUT, so two PUTs of one manifest at once made the index PUT
    beside them fail with MANIFEST_BLOB_UNKNOWN (seen in CI): one repository pushes serially."""
    import threading
    import time
    from types import SimpleNamespace

    from airlock.apply import push

    site, index, platforms = _site(tmp_path, ("amd64",))
    pins = [_pin("registry.k8s.io/pause:3.10", index, platforms[0]),
            _pin(f"registry.k8s.io/pause@{index}", index, platforms[0]),
            _pin("nginx:1.29", index, platforms[0])]
    monkeypatch.setattr(push, "read_lock", lambda _: SimpleNamespace(image=pins))
    puts: list[str] = []
    busy: dict[str, int] = {}
    overlaps: list[str] = []
    guard = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "HEAD":
            return httpx.Response(200)
        if request.method == "POST":  # a mount of a config another image pushed
            return httpx.Response(201)
        if request.method != "PUT" or "/manifests/" not in path:
            return httpx.Response(200)
        repo = path.split("/manifests/")[0]
        with guard:
            puts.append(path)
            busy[repo] = busy.get(repo, 0) + 1
            if busy[repo] > 1:
                overlaps.append(path)
        time.sleep(0.02)  # long enough for a second image's PUT to arrive if they ran side by side
        with guard:
            busy[repo] -= 1
        return httpx.Response(201, headers={"Docker-Content-Digest": Digest.of(request.read())})

    stats = push.push_site(site, PushOptions(target="reg.test/mirror", insecure=True,
                                             transport=httpx.MockTransport(handler)))
    assert stats["images"] == 3 and overlaps == []
    pause = "/v2/mirror/registry.k8s.io/pause/manifests/"
    assert sorted(p for p in puts if p.startswith(pause)) == sorted(
        [pause + platforms[0], pause + index, pause + "3.10"])
    assert len([p for p in puts if "library/nginx" in p]) == 3
