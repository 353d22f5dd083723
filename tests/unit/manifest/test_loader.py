from __future__ import annotations

from pathlib import Path

import pytest

from airlock.errors import ManifestError
from airlock.manifest import load_manifest


def test_minimal_defaults_and_locations(tmp_path: Path) -> None:
    p = tmp_path / "airlock.yaml"
    p.write_text('kubespray:\n  version: "2.31.0"\narch: arm64\nvars:\n  kube_proxy_mode: iptables\n')
    loaded = load_manifest(p)
    m = loaded.manifest
    assert m.arch == ["arm64"] and m.os == [] and m.addons == [] and m.python.requirements == []
    assert m.kubespray.default_source().endswith("/v2.31.0.tar.gz")
    assert loaded.where("vars", "kube_proxy_mode") == f"{p}:5"
    assert loaded.where("vars", "not_there") == f"{p}:4"


def test_model_is_frozen_and_strict(tmp_path: Path) -> None:
    p = tmp_path / "airlock.yaml"
    p.write_text('kubespray: {version: "v2.30.0"}\n')
    with pytest.raises(ManifestError, match="without the v"):
        load_manifest(p)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "airlock.yaml"
    p.write_text("")
    with pytest.raises(ManifestError, match="top level must be a mapping"):
        load_manifest(p)


def test_full_example_loads(tmp_path: Path) -> None:
    p = tmp_path / "airlock.yaml"
    p.write_text("""
kubespray: {version: "2.30.0", source: ./kubespray-2.30.0}
kube_version: "1.34.3"
arch: [amd64, arm64]
os: [rocky-10]
network_plugin: flannel
container_manager: containerd
addons: [helm, metrics_server, cert_manager]
vars: {kube_proxy_mode: iptables, enable_nodelocaldns: false}
images: ["docker.io/library/nginx:1.29.4"]
files: [{url: "https://example.org/tool.tgz", sha256: "%s"}]
packages: [nfs-utils]
python: {version: "3.12", requirements: ["ansible==10.7.0"]}
mirrors:
  registry.k8s.io: http://127.0.0.1:5000/registry.k8s.io
  "https://github.com": http://127.0.0.1:8080/github.com
""" % ("0" * 64))
    m = load_manifest(p).manifest
    assert m.mirrors["registry.k8s.io"].endswith("/registry.k8s.io")
    assert m.vars["enable_nodelocaldns"] is False
