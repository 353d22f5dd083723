"""Kubespray sources: directory, local tarball, URL through a mirror (injected transport)."""

from __future__ import annotations

import io
import tarfile
from functools import cache
from pathlib import Path

import httpx
import pytest

from airlock.errors import KubesprayError, NetworkError
from airlock.kubespray.source import open_source
from tests.conftest import kubespray_dir


@cache  # bytes: one tarball per argument for the module; gzip's fastest level, the tests read it, not its size
def make_tarball(version: str, evil: bool = False) -> bytes:
    src = kubespray_dir(version)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        tar.add(src / "roles", arcname=f"kubespray-{version}/roles")
        tar.add(src / "requirements.txt", arcname=f"kubespray-{version}/requirements.txt")
        if evil:
            data = b"owned"
            for name in (f"kubespray-{version}/roles/../../escape.txt", "/abs.txt"):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo(f"kubespray-{version}/roles/link")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
    return buf.getvalue()


def test_local_tarball_is_unpacked_safely(tmp_path: Path) -> None:
    tgz = tmp_path / "ks.tar.gz"
    tgz.write_bytes(make_tarball("2.30.0", evil=True))
    tree = open_source("2.30.0", str(tgz), base_dir=tmp_path).tree
    assert (tree.root / "roles/kubespray_defaults/defaults/main/download.yml").is_file()
    assert not (tree.root / "roles/link").exists()
    assert not list(tree.root.parent.parent.rglob("escape.txt"))
    assert tree.requirements()[0] == "ansible==10.7.0"


def test_url_source_goes_through_mirror_and_is_cached(tmp_path: Path) -> None:
    body = make_tarball("2.30.0")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, stream=httpx.ByteStream(body))  # streamed, as from a real server

    url = "https://github.com/kubernetes-sigs/kubespray/archive/refs/tags/v2.30.0.tar.gz"
    mirrors = {"https://github.com": "http://127.0.0.1:8080/github.com"}
    transport = httpx.MockTransport(handler)
    tree = open_source("2.30.0", url, base_dir=tmp_path, mirrors=mirrors, transport=transport).tree
    open_source("2.30.0", url, base_dir=tmp_path, mirrors=mirrors, transport=transport)
    assert seen == ["http://127.0.0.1:8080/github.com/kubernetes-sigs/kubespray/archive/refs/tags/v2.30.0.tar.gz"]
    assert tree.layers(("kubespray_defaults",))[0]["kube_image_repo"] == "registry.k8s.io"


def test_url_errors_are_network_errors(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(404))
    with pytest.raises(NetworkError, match="404"):
        open_source("2.30.0", "https://example.invalid/ks.tgz", base_dir=tmp_path, transport=transport)


def test_incomplete_tree_names_missing_files(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    with pytest.raises(KubesprayError, match="roles/kubespray_defaults/defaults/main"):
        open_source("2.30.0", str(tmp_path), base_dir=tmp_path)


def test_corrupt_tarball(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(KubesprayError, match="cannot unpack"):
        open_source("2.30.0", str(bad), base_dir=tmp_path)


def test_tarball_galaxy_version_must_match_the_manifest(tmp_path: Path) -> None:
    body = make_tarball("2.30.0")
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as src, tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for member in src:
            tar.addfile(member, src.extractfile(member) if member.isfile() else None)
        galaxy = b"namespace: kubernetes_sigs\nname: kubespray\nversion: 2.30.0\n"
        info = tarfile.TarInfo("kubespray-2.30.0/galaxy.yml")
        info.size = len(galaxy)
        tar.addfile(info, io.BytesIO(galaxy))
    tgz = tmp_path / "ks.tar.gz"
    tgz.write_bytes(buf.getvalue())
    assert open_source("2.30.0", str(tgz), base_dir=tmp_path).tree.own_version() == "2.30.0"
    with pytest.raises(KubesprayError, match="is version 2.30.0"):
        open_source("2.31.0", str(tgz), base_dir=tmp_path)
