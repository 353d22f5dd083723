"""The site serve_load.py measures: a synthetic one, its URL list, and nginx serving it beside airlock."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from airlock.digest import Digest
from airlock.reference import parse_ref

MiB = 1 << 20
SMALL = 256 * 1024  # requests for bodies up to this size count as "small"


@dataclass
class Target:
    path: str
    size: int



def _put_blob(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return "sha256:" + digest


def build_site(site: Path, big_mib: list[int], small_files: int, images: int) -> None:
    rnd = random.Random(7)
    bench = site / "files" / "bench"
    (bench / "small").mkdir(parents=True)
    for mib in big_mib:
        (bench / f"big-{mib}.bin").write_bytes(rnd.randbytes(mib * MiB))
    for i in range(small_files):
        (bench / "small" / f"s{i}.txt").write_bytes(rnd.randbytes(rnd.randint(512, 8192)))
    layout = site / "oci"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    index = []
    for i in range(images):
        config = _put_blob(layout, json.dumps({"architecture": "amd64", "os": "linux", "pad": "x" * rnd.randint(
            1000, 6000)}).encode())
        layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 4096,
                   "digest": _put_blob(layout, rnd.randbytes(rnd.randint(2048, 65536)))} for _ in range(3)]
        body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1,
                                      "digest": config}, "layers": layers}).encode()
        index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": len(body),
                      "digest": _put_blob(layout, body),
                      "annotations": {"org.opencontainers.image.ref.name": f"bench.example/app{i}:1.0"}})
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": index}))


def targets(site: Path) -> tuple[list[Target], list[Target]]:
    """(small, large) GETs that both servers can answer: files, and registry paths by digest."""
    small: list[Target] = [Target("/v2/", 2)]
    large: list[Target] = []
    for p in sorted((site / "files").rglob("*")):
        if p.is_file():
            t = Target("/files/" + p.relative_to(site / "files").as_posix(), p.stat().st_size)
            (small if t.size <= SMALL else large).append(t)
    blobs = site / "oci" / "blobs" / "sha256"
    index = json.loads((site / "oci" / "index.json").read_text())
    for desc in index.get("manifests", []):
        name = parse_ref(desc["annotations"]["org.opencontainers.image.ref.name"]).name
        small.append(Target(f"/v2/{name}/manifests/{desc['digest']}", desc["size"]))
        doc = json.loads((blobs / Digest(desc["digest"]).hex).read_bytes())
        for child in ([doc["config"]] if "config" in doc else []) + doc.get("layers", [])[:1]:
            f = blobs / Digest(child["digest"]).hex
            if f.is_file():
                t = Target(f"/v2/{name}/blobs/{child['digest']}", f.stat().st_size)
                (small if t.size <= SMALL else large).append(t)
    return small, large


def nginx_conf(work: Path, site: Path, port: int) -> Path:
    for d in ("tmp", "logs"):
        (work / d).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes auto;
user root root;
pid {work}/nginx.pid;
error_log {work}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log {work}/logs/access.log;
  client_body_temp_path {work}/tmp/body; proxy_temp_path {work}/tmp/proxy;
  fastcgi_temp_path {work}/tmp/fcgi; uwsgi_temp_path {work}/tmp/uwsgi; scgi_temp_path {work}/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {site};
    location = /v2/ {{ default_type application/json; return 200 '{{}}'; }}
    location ~ "^/v2/.+/(manifests|blobs)/sha256:([0-9a-f]{{64}})$" {{ alias {site}/oci/blobs/sha256/$2; }}
  }}
}}
""")
    return conf
