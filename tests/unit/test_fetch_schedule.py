"""Fetch scheduling, against a fake registry and file server (an httpx transport with a request log):
downloads start before every manifest is in, the largest blobs go first, and the bundle is the same
bytes whatever the order and the concurrency. No timing: the order of requests is what is checked."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.fetch import FetchOptions, fetch
from airlock.lockfile import Lock
from airlock.lockfile.model import FilePin, ImagePin, Inputs, KubesprayPin, PlatformPin
from airlock.lockfile.writer import dumps
from airlock.parallel import PriorityPool

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HEX0 = "0" * 64


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeUpstream:
    """A registry (``reg.test``) and a file server (``files.test``) in one transport, logging requests."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.log: list[str] = []
        self.hooks: dict[str, Any] = {}  # path -> called before answering
        self._lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.log.append(f"{request.method} {path}")
        if path == "/v2/":
            return httpx.Response(200)
        if path in self.hooks and not self.hooks[path]():
            return httpx.Response(404)
        if path not in self.routes:
            return httpx.Response(404)
        return httpx.Response(200, stream=httpx.ByteStream(self.routes[path]))  # streamed, as on a wire

    def image(self, name: str, layers: list[bytes]) -> ImagePin:
        config = json.dumps({"architecture": "amd64", "os": "linux", "name": name}).encode()
        descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + _sha(b),
                  "size": len(b)} for b in layers]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": "sha256:" + _sha(config), "size": len(config)},
                               "layers": descs}, sort_keys=True).encode()
        digest = "sha256:" + _sha(manifest)
        self.routes[f"/v2/app/{name}/manifests/{digest}"] = manifest
        for b in [config, *layers]:
            self.routes[f"/v2/app/{name}/blobs/sha256:{_sha(b)}"] = b
        return ImagePin(name=name, ref=f"reg.test/app/{name}:1", digest=digest, media_type=OCI_MANIFEST,
                        target="platform", target_digest=digest, target_media_type=OCI_MANIFEST,
                        platforms=[PlatformPin(arch="amd64", digest=digest, media_type=OCI_MANIFEST,
                                               size=len(config) + sum(map(len, layers)))])

    def file(self, name: str, data: bytes) -> FilePin:
        self.routes[f"/f/{name}"] = data
        return FilePin(name=name, arch="amd64", url=f"https://files.test/f/{name}", sha256=_sha(data),
                       size=len(data), path=f"files.test/f/{name}")

    def blob_path(self, image: str, data: bytes) -> str:
        return f"/v2/app/{image}/blobs/sha256:{_sha(data)}"


def _lock(tmp_path: Path, files: list[FilePin], images: list[ImagePin]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("kubespray-2.30.0/README.md")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    kube = tmp_path / "kubespray-2.30.0.tar"
    kube.write_bytes(buf.getvalue())
    lock = Lock(inputs=Inputs(manifest_sha256=HEX0, kubespray_sha256=_sha(buf.getvalue())),
                kubespray=KubesprayPin(version="2.30.0", kind="tarball", url=str(kube), sha256=_sha(buf.getvalue())),
                file=files, image=images)
    path = tmp_path / "airlock.lock"
    path.write_text(dumps(lock))
    return path


def _fetch(lock: Path, up: FakeUpstream, out: Path, cache: Path, concurrency: int) -> bytes:
    fetch(lock, out, FetchOptions(cache=cache, concurrency=concurrency, transport=httpx.MockTransport(up.handle)))
    return out.read_bytes()


def _layer(tag: str, size: int) -> bytes:
    return (tag.encode() * size)[:size]


def test_blob_downloads_start_before_every_manifest_is_in(tmp_path: Path) -> None:
    up = FakeUpstream()
    a_layer = _layer("a", 3000)
    a, b = up.image("a", [a_layer]), up.image("b", [_layer("b", 2000)])
    a_blob = up.blob_path("a", a_layer)
    started = threading.Event()
    up.hooks[a_blob] = lambda: started.set() or True
    # b's manifest is answered only once a blob of a is being downloaded; a fetch that waits for
    # every manifest first gets a 404 here (after the safety timeout) and fails.
    up.hooks[f"/v2/app/b/manifests/{b.digest}"] = lambda: started.wait(20)
    lock = _lock(tmp_path, [], [a, b])
    _fetch(lock, up, tmp_path / "bundle.tar", tmp_path / "cache", concurrency=4)
    assert up.log.index(f"GET {a_blob}") < len(up.log)
    assert f"GET /v2/app/b/manifests/{b.digest}" in up.log


def test_largest_blobs_download_first(tmp_path: Path) -> None:
    up = FakeUpstream()
    sizes = {"f1": 1000, "f2": 300_000, "f3": 50_000, "f4": 200_000, "f5": 5_000, "f6": 120_000}
    data = {n: _layer(n, s) for n, s in sizes.items()}
    files = [up.file(n, d) for n, d in data.items()]
    by_digest = [f"GET /f/{n}" for n in sorted(data, key=lambda n: _sha(data[n]))]
    largest_first = [f"GET /f/{n}" for n in sorted(data, key=lambda n: -sizes[n])]
    assert by_digest != largest_first  # else this test could not tell the orders apart
    lock = _lock(tmp_path, files, [])
    _fetch(lock, up, tmp_path / "bundle.tar", tmp_path / "cache", concurrency=1)
    assert [r for r in up.log if r.startswith("GET /f/")] == largest_first


def test_image_blobs_too_go_largest_first_after_their_manifests(tmp_path: Path) -> None:
    up = FakeUpstream()
    layers = [_layer(t, s) for t, s in [("x", 700), ("y", 90_000), ("z", 30_000)]]
    img = up.image("a", layers)
    lock = _lock(tmp_path, [], [img])
    _fetch(lock, up, tmp_path / "bundle.tar", tmp_path / "cache", concurrency=1)
    gets = [r for r in up.log if r.startswith("GET /v2/app/a/")]
    assert gets[0] == f"GET /v2/app/a/manifests/{img.digest}"
    got_layers = [g for g in gets if any(g.endswith(_sha(b)) for b in layers)]
    assert got_layers == [f"GET {up.blob_path('a', b)}" for b in sorted(layers, key=len, reverse=True)]
    assert not any(r.startswith("HEAD ") for r in up.log)  # a blob costs one request


def test_bundle_bytes_do_not_depend_on_download_order(tmp_path: Path) -> None:
    up = FakeUpstream()
    images = [up.image(n, [_layer(n, 500 * (i + 1)), _layer(n.upper(), 40_000 - 3000 * i), b"shared"])
              for i, n in enumerate("abcde")]
    files = [up.file(f"f{i}", _layer(str(i), 1000 * (7 - i) ** 2)) for i in range(6)]
    lock = _lock(tmp_path, files, images)
    serial = _fetch(lock, up, tmp_path / "one.tar", tmp_path / "c1", concurrency=1)
    parallel = _fetch(lock, up, tmp_path / "many.tar", tmp_path / "c8", concurrency=8)
    warm = _fetch(lock, up, tmp_path / "warm.tar", tmp_path / "c8", concurrency=8)
    assert serial == parallel == warm


@pytest.mark.parametrize("workers", [1, 3])
def test_priority_pool_starts_the_smallest_key_next(workers: int) -> None:
    pool = PriorityPool(workers)
    gate = threading.Event()
    ran: list[int] = []
    blockers = [pool.submit((-1, i), gate.wait) for i in range(workers)]  # every thread busy
    futs = [pool.submit(k, lambda k=k: ran.append(k)) for k in (5, 1, 4, 2, 3)]
    dropped = pool.submit(9, lambda: ran.append(9))
    dropped_cancelled = dropped.cancel()
    gate.set()
    pool.close()
    assert all(f.done() for f in blockers + futs) and dropped_cancelled
    if workers == 1:
        assert ran == [1, 2, 3, 4, 5]
    else:
        assert sorted(ran) == [1, 2, 3, 4, 5]


def test_priority_pool_cancel_drops_what_has_not_started() -> None:
    pool = PriorityPool(1)
    gate = threading.Event()
    first = pool.submit(0, gate.wait)
    later = [pool.submit(k, lambda: None) for k in range(1, 4)]
    pool.cancel()
    gate.set()
    pool.close()
    assert first.result() is True and all(f.cancelled() for f in later)


def test_manifests_are_requested_before_any_file(tmp_path: Path) -> None:
    # With every thread free, a job starts the moment it is submitted: manifests submitted after the
    # files would wait for a thread, and the images' layers would be known (and started) late.
    up = FakeUpstream()
    files = [up.file(f"f{i}", _layer(str(i), 400_000)) for i in range(3)]
    images = [up.image(n, [_layer(n, 1000)]) for n in "ab"]
    both = threading.Barrier(2, timeout=20)  # met only while both threads run a manifest job
    for img in images:
        up.hooks[f"/v2/app/{img.name}/manifests/{img.digest}"] = lambda: both.wait() is not None
    lock = _lock(tmp_path, files, images)
    _fetch(lock, up, tmp_path / "bundle.tar", tmp_path / "cache", concurrency=2)
    gets = [r for r in up.log if r.startswith("GET /f/") or "/manifests/" in r]
    assert "/manifests/" in gets[0], gets


def test_total_concurrency_is_what_was_asked(tmp_path: Path) -> None:
    # Every request waits at a barrier for two others: three meet when three are in flight at once.
    up = FakeUpstream()
    files = [up.file(f"f{i}", _layer(str(i), 10_000 + i)) for i in range(9)]
    gate = threading.Barrier(3, timeout=20)
    now, peak = [0], [0]
    count = threading.Lock()

    def one_of_three() -> bool:
        with count:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        try:
            gate.wait()
        finally:
            with count:
                now[0] -= 1
        return True

    for f in files:
        up.hooks[f"/f/{f.name}"] = one_of_three
    _fetch(_lock(tmp_path, files, []), up, tmp_path / "bundle.tar", tmp_path / "cache", concurrency=3)
    assert peak[0] == 3


def test_bundle_is_written_while_later_blobs_still_download(tmp_path: Path) -> None:
    # The download of the blob that sorts last in the bundle is answered only once the bundle being
    # written already holds the first one: download -> verify -> bundle write is one pipeline.
    up = FakeUpstream()
    first, last = sorted((_layer(t, 50_000) for t in "abcdefgh"), key=_sha)[::7]
    files = [up.file("first", first), up.file("last", last)]

    def first_is_in_the_bundle() -> bool:
        for _ in range(2000):
            staged = list(tmp_path.glob(".bundle.tar.airlock-*/bundle.tar"))
            if staged and first in staged[0].read_bytes():
                return True
            threading.Event().wait(0.01)
        return False

    up.hooks["/f/last"] = first_is_in_the_bundle
    _fetch(_lock(tmp_path, files, []), up, tmp_path / "bundle.tar", tmp_path / "cache", concurrency=2)
    assert first in (tmp_path / "bundle.tar").read_bytes() and last in (tmp_path / "bundle.tar").read_bytes()


def test_a_resumed_download_counts_by_the_bytes_it_still_misses(tmp_path: Path) -> None:
    up = FakeUpstream()
    big, mid = _layer("B", 300_000), _layer("M", 100_000)
    files = [up.file("big", big), up.file("mid", mid)]
    partial = tmp_path / "cache" / "partial" / _sha(big)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(big[:250_000])  # a killed run's: 50 kB left, less than mid's 100 kB
    _fetch(_lock(tmp_path, files, []), up, tmp_path / "bundle.tar", tmp_path / "cache", concurrency=1)
    assert [r for r in up.log if r.startswith("GET /f/")] == ["GET /f/mid", "GET /f/big"]
