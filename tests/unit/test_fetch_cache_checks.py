"""A warm fetch checks the cached blobs it copies into the bundle: blob by blob the first time, then
by the bundle's stream sha256 recorded for the same index; a damaged cached blob is detected either
way, dropped, downloaded again, and never reaches a bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.bundle import tarstream
from airlock.store import Store
from tests.unit.test_fetch_schedule import FakeUpstream, _fetch, _layer, _lock


def _world(tmp_path: Path) -> tuple[FakeUpstream, Path, bytes]:
    up = FakeUpstream()
    layer = _layer("L", 300_000)
    images = [up.image("a", [layer, _layer("m", 5000)])]
    files = [up.file("f", _layer("F", 200_000))]
    return up, _lock(tmp_path, files, images), layer


def _damage(cache: Path, data: bytes) -> None:
    import hashlib

    path = Store(cache).path("sha256:" + hashlib.sha256(data).hexdigest())
    raw = bytearray(path.read_bytes())
    raw[1000] ^= 0xFF  # same size: only a hash can tell
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("memo", [True, False])
def test_a_damaged_cached_blob_is_downloaded_again_not_bundled(tmp_path: Path, memo: bool) -> None:
    up, lock, layer = _world(tmp_path)
    cache = tmp_path / "cache"
    cold = _fetch(lock, up, tmp_path / "cold.tar", cache, concurrency=4)
    if not memo:
        for f in (cache / "memos" / "bundle-stream").iterdir():
            f.unlink()
    _damage(cache, layer)
    up.log.clear()
    warm = _fetch(lock, up, tmp_path / "warm.tar", cache, concurrency=4)
    assert warm == cold
    assert [r for r in up.log if r.startswith("GET /v2/app/a/blobs/")] == [f"GET {up.blob_path('a', layer)}"]
    assert not list(tmp_path.glob(".warm.tar.airlock-*"))


def test_warm_fetch_checks_blobs_one_by_one_once_then_by_the_stream(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    up, lock, _ = _world(tmp_path)
    cache = tmp_path / "cache"
    hashed: list[int] = []
    real = tarstream._sha256_hex
    monkeypatch.setattr(tarstream, "_sha256_hex", lambda data: hashed.append(len(data)) or real(data))
    cold = _fetch(lock, up, tmp_path / "a.tar", cache, concurrency=4)
    assert 300_000 not in hashed and 200_000 not in hashed  # downloaded now: verified on the way in
    for f in (cache / "memos" / "bundle-stream").iterdir():
        f.unlink()
    hashed.clear()
    assert _fetch(lock, up, tmp_path / "b.tar", cache, concurrency=4) == cold
    assert 300_000 in hashed and 200_000 in hashed  # no record: each cached blob hashed on its own
    hashed.clear()
    up.log.clear()
    assert _fetch(lock, up, tmp_path / "c.tar", cache, concurrency=4) == cold
    assert hashed == [] and up.log == []  # recorded: one stream hash, no request


def _dir_lock(tmp_path: Path, up: FakeUpstream) -> tuple[Path, Path]:
    """A lock whose Kubespray source is a directory, and the manifest it was resolved from."""
    from airlock.kubespray.source import tree_digest
    from airlock.lockfile import parse_lock
    from airlock.lockfile.writer import dumps
    from airlock.manifest import load_manifest
    from airlock.resolve import manifest_digest

    tree = tmp_path / "kubespray-2.30.0"
    (tree / "roles").mkdir(parents=True)
    (tree / "roles" / "main.yml").write_text("- hosts: all\n")
    manifest = tmp_path / "airlock.yaml"
    manifest.write_text(f'kubespray: {{version: "2.30.0", source: "{tree}"}}\narch: [amd64]\n')
    base = parse_lock(_lock(tmp_path, [up.file("f", _layer("F", 1000))], []).read_text(), "airlock.lock")
    lock = base.model_copy(update={
        "inputs": base.inputs.model_copy(update={"manifest_sha256": manifest_digest(load_manifest(manifest))}),
        "kubespray": base.kubespray.model_copy(update={"kind": "directory", "url": str(tree),
                                                       "sha256": tree_digest(tree)})})
    path = tmp_path / "airlock.lock"
    path.write_text(dumps(lock))
    return path, manifest


def test_kubespray_tar_and_manifest_check_are_recalled_not_redone(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    import airlock.fetcher as fetcher_mod
    import airlock.manifest as manifest_mod
    from airlock.fetch import FetchOptions, fetch

    up = FakeUpstream()
    lock, manifest = _dir_lock(tmp_path, up)
    calls: list[str] = []
    real_tar, real_load = fetcher_mod.tar_directory, manifest_mod.load_manifest
    monkeypatch.setattr(fetcher_mod, "tar_directory", lambda p: calls.append("tar") or real_tar(p))
    monkeypatch.setattr(manifest_mod, "load_manifest", lambda p: calls.append("load") or real_load(p))

    def run(out: str, m: Path) -> bytes:
        fetch(lock, tmp_path / out, FetchOptions(manifest=m, cache=tmp_path / "cache",
                                                 transport=httpx.MockTransport(up.handle)))
        return (tmp_path / out).read_bytes()

    first = run("a.tar", manifest)
    assert calls == ["tar", "load"]
    calls.clear()
    assert run("b.tar", manifest) == first and calls == []
    other = tmp_path / "other.yaml"  # another manifest is still checked, and refused
    other.write_text(manifest.read_text() + "os: [rocky-10]\n")
    with pytest.raises(Exception, match="not the manifest the lock was resolved from"):
        run("c.tar", other)


def test_a_damaged_cached_manifest_is_fetched_again_before_it_is_parsed(tmp_path: Path) -> None:
    up, lock, _ = _world(tmp_path)
    cache = tmp_path / "cache"
    cold = _fetch(lock, up, tmp_path / "cold.tar", cache, concurrency=4)
    manifest = next(p for p in up.routes if "/manifests/" in p)
    Store(cache).path(manifest.rsplit("/", 1)[1]).write_bytes(b"{not json")
    up.log.clear()
    assert _fetch(lock, up, tmp_path / "warm.tar", cache, concurrency=4) == cold
    assert f"GET {manifest}" in up.log
