"""Generate container images in Python as OCI layouts (random layers, multi-arch indexes).

Kinds:
- ``oci-index``: OCI index with linux/amd64 and linux/arm64 manifests;
- ``oci-index-attest``: the same plus an attestation-style entry (platform unknown/unknown),
  as BuildKit writes;
- ``docker-list``: Docker manifest list v2 with Docker schema 2 manifests;
- ``oci-single`` / ``docker-single``: one linux/<arch> manifest, no index.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def shared_layer(seed: str, size: int, level: int = 6) -> tuple[bytes, str]:
    """A layer to pass to several images (``shared_layers``), like a common base image."""
    return _layer(random.Random(seed), size, level)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Layout:
    """An OCI layout, or for Docker media types skopeo's ``dir:`` layout (its OCI transport only
    reads OCI media types): blobs as ``<hex>``, instance manifests as ``<hex>.manifest.json``."""

    root: Path
    dir_format: bool = False

    def blob(self, data: bytes) -> str:
        d = _digest(data)
        hexd = d.split(":", 1)[1]
        p = self.root / hexd if self.dir_format else self.root / "blobs" / "sha256" / hexd
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return d

    def manifest(self, data: bytes) -> str:
        d = self.blob(data)
        if self.dir_format:
            (self.root / f"{d.split(':', 1)[1]}.manifest.json").write_bytes(data)
        return d

    def transport(self, tag: str) -> str:
        return f"dir:{self.root}" if self.dir_format else f"oci:{self.root}:{tag}"


def _layer(rng: random.Random, size: int, level: int = 6) -> tuple[bytes, str]:
    payload = rng.randbytes(size)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("data/payload.bin")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, compresslevel=level, mtime=0), _digest(tar_bytes)


def _manifest(layout: Layout, rng: random.Random, arch: str, docker: bool, layers: int, layer_size: int,
              shared: list[tuple[bytes, str]], level: int = 6) -> tuple[bytes, dict]:
    blobs = list(shared) + [_layer(rng, layer_size, level) for _ in range(layers)]
    config = json.dumps({"architecture": arch, "os": "linux", **({"variant": "v8"} if arch == "arm64" else {}),
                         "rootfs": {"type": "layers", "diff_ids": [d for _, d in blobs]},
                         "config": {"Env": ["PATH=/usr/bin"]}}, sort_keys=True).encode()
    m = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
         "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": layout.blob(config),
                    "size": len(config)},
         "layers": [{"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": layout.blob(gz),
                     "size": len(gz)} for gz, _ in blobs]}
    body = json.dumps(m, indent=3).encode()  # deliberately not compact: digests must be of the bytes
    desc = {"mediaType": m["mediaType"], "digest": layout.manifest(body), "size": len(body),
            "platform": {"architecture": arch, "os": "linux", **({"variant": "v8"} if arch == "arm64" else {})}}
    return body, desc


def build_image(root: Path, kind: str, *, seed: str, tag: str, arches: tuple[str, ...] = ("amd64", "arm64"),
                layers: int = 2, layer_size: int = 4096, shared_layers: tuple[tuple[bytes, str], ...] = (),
                level: int = 6) -> str:
    """Write the image at ``root``; returns the skopeo source (``oci:DIR:TAG`` or ``dir:DIR``)."""
    rng = random.Random(seed)
    docker = kind.startswith("docker")
    layout = Layout(root, dir_format=docker)
    root.mkdir(parents=True, exist_ok=True)
    # A base layer shared by every arch, plus any layers shared with other images.
    shared = [*shared_layers, _layer(rng, layer_size, level)]
    if kind.endswith("single"):
        body, top = _manifest(layout, rng, arches[0], docker, layers, layer_size, shared, level)
        top.pop("platform")
    else:
        descs = [_manifest(layout, rng, a, docker, layers, layer_size, shared, level)[1] for a in arches]
        if kind == "oci-index-attest":
            statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1", "seed": seed}).encode()
            att = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                              "digest": layout.blob(b"{}"), "size": 2},
                   "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layout.blob(statement),
                               "size": len(statement)}]}
            body = json.dumps(att).encode()
            descs.append({"mediaType": OCI_MANIFEST, "digest": layout.blob(body), "size": len(body),
                          "platform": {"architecture": "unknown", "os": "unknown"},
                          "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                          "vnd.docker.reference.digest": descs[0]["digest"]}})
        index = {"schemaVersion": 2, "mediaType": DOCKER_LIST if docker else OCI_INDEX, "manifests": descs}
        body = json.dumps(index, indent=2).encode()
        top = {"mediaType": index["mediaType"], "digest": layout.blob(body), "size": len(body)}
    if docker:
        (root / "manifest.json").write_bytes(body)
        (root / "version").write_text("Directory Transport Version: 1.1\n")
    else:
        top["annotations"] = {"org.opencontainers.image.ref.name": tag}
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return layout.transport(tag)
